"""Freqtrade integration: run freqtrade commands as logged, traced spans.

``run_freqtrade(["backtesting", "--config", "config.json", ...])`` (or a configured
:class:`FreqtradeRunner`) runs the freqtrade CLI as a subprocess inside a ``freqtrade.command``
span under the caller's context. Freqtrade's log lines are re-emitted as they arrive as records at
freqtrade's level (its logger name in ``data.logger``), tracebacks as one record, progress bars and
table art left out; the status comes from the exit code and the ERROR lines; secrets from the
config files, the environment and the command line never reach a line. The child process gets the
context in ``AGENT_TRACING_*`` environment variables (:func:`context_from_environ` reads them).
"""

from __future__ import annotations

from agent_tracing.freqtrade._command import (
    ENV_BACKTEST_ID,
    ENV_CORRELATION_ID,
    ENV_PARENT_SPAN_ID,
    ENV_STRATEGY_ID,
    ENV_USER_ID,
    DockerOptions,
    command_parameters,
    context_from_environ,
)
from agent_tracing.freqtrade._output import parse_tables
from agent_tracing.freqtrade._results import find_output_files, read_summary
from agent_tracing.freqtrade._runner import (
    LOGGER,
    OUTPUT_LOGGER,
    FreqtradeError,
    FreqtradeResult,
    FreqtradeRunner,
    default_executable,
    run_freqtrade,
)
from agent_tracing.freqtrade._secrets import FREQTRADE_SECRET_KEYS, SecretScrubber, collect_secrets

__all__ = [
    "ENV_BACKTEST_ID",
    "ENV_CORRELATION_ID",
    "ENV_PARENT_SPAN_ID",
    "ENV_STRATEGY_ID",
    "ENV_USER_ID",
    "FREQTRADE_SECRET_KEYS",
    "LOGGER",
    "OUTPUT_LOGGER",
    "DockerOptions",
    "FreqtradeError",
    "FreqtradeResult",
    "FreqtradeRunner",
    "SecretScrubber",
    "collect_secrets",
    "command_parameters",
    "context_from_environ",
    "default_executable",
    "find_output_files",
    "parse_tables",
    "read_summary",
    "run_freqtrade",
]
