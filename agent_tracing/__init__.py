"""agent_tracing: one structured-logging and tracing core for FastAPI, Celery, LangChain and
Freqtrade backends.

The core imports no framework; each integration lives in its own module
(``agent_tracing.fastapi``, ``agent_tracing.celery``, ``agent_tracing.langchain``,
``agent_tracing.freqtrade``, ``agent_tracing.sqlalchemy``) and is imported by its own path.
"""

from typing import Any

from agent_tracing import schema
from agent_tracing.config import (
    LoggingSettings,
    QueueStats,
    configure_logging,
    flush_logging,
    queue_stats,
    shutdown_logging,
)
from agent_tracing.context import (
    bind,
    bind_contextvars,
    current_context,
    get_context_value,
    new_correlation_id,
    replace_contextvars,
    reset_contextvars,
)
from agent_tracing.encoding import Limits, Sanitizer, get_sanitizer
from agent_tracing.formatters import ConsoleFormatter, JsonFormatter
from agent_tracing.handlers import (
    ConsoleStreamHandler,
    ContextQueueHandler,
    JsonFileHandler,
    JsonStreamHandler,
    RotatingJsonFileHandler,
    TimedRotatingJsonFileHandler,
)
from agent_tracing.logger import BoundLogger, get_logger
from agent_tracing.records import ContextFilter
from agent_tracing.redaction import DEFAULT_SECRET_KEYS, REDACTED, Redactor
from agent_tracing.schema import context_fields, declared_fields, line_keys, set_context_fields
from agent_tracing.spans import Span, new_span_id, span

__all__ = [
    "CONTEXT_FIELDS",
    "DEFAULT_SECRET_KEYS",
    "REDACTED",
    "SCHEMA_KEYS",
    "BoundLogger",
    "ConsoleFormatter",
    "ConsoleStreamHandler",
    "ContextFilter",
    "ContextQueueHandler",
    "JsonFileHandler",
    "JsonFormatter",
    "JsonStreamHandler",
    "Limits",
    "LoggingSettings",
    "QueueStats",
    "Redactor",
    "RotatingJsonFileHandler",
    "Sanitizer",
    "Span",
    "TimedRotatingJsonFileHandler",
    "bind",
    "bind_contextvars",
    "configure_logging",
    "context_fields",
    "current_context",
    "declared_fields",
    "flush_logging",
    "get_context_value",
    "get_logger",
    "get_sanitizer",
    "line_keys",
    "new_correlation_id",
    "new_span_id",
    "queue_stats",
    "replace_contextvars",
    "reset_contextvars",
    "schema",
    "set_context_fields",
    "shutdown_logging",
    "span",
]


def __getattr__(name: str) -> Any:
    """``SCHEMA_KEYS`` and ``CONTEXT_FIELDS``: the schema in effect when read (see
    :mod:`agent_tracing.schema`; :func:`line_keys` and :func:`context_fields` read it each time)."""
    if name == "SCHEMA_KEYS":
        return schema.line_keys()
    if name == "CONTEXT_FIELDS":
        return schema.context_fields()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
