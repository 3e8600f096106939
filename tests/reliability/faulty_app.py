"""The GenTrade app with a broken console formatter, for the fault tests
(``uvicorn tests.reliability.faulty_app:app``): the JSON view must keep every line."""

from __future__ import annotations

import logging

import agent_tracing as at
from app.main import create_app


class BrokenFormatter(logging.Formatter):
    """A formatter with a bug: every call raises."""

    def format(self, record: logging.LogRecord) -> str:
        raise RuntimeError("formatter bug")


app = create_app()
for handler in logging.getLogger().handlers:
    if isinstance(handler, at.ConsoleStreamHandler):
        handler.setFormatter(BrokenFormatter())
