"""The project's logging: one call, at import, before anything logs (the README's rule)."""

import os

import agent_tracing as at

at.configure_logging(json_output=os.environ["TRIAL_LOG_FILE"])
