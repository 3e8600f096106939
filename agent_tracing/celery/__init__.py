"""Celery integration: task lifecycle lines and context propagation across a real broker.

``instrument_celery(app)`` makes every task message carry the publisher's correlation id, user,
strategy and backtest ids and span id (headers ``x_correlation_id`` and ``x_trace_context``); the
worker runs each task as a span of kind ``task`` whose parent is the publisher's span, with the
context restored from the headers and reset exactly after the run. Lifecycle events:
``task.published`` (or ``task.publish_failed``), ``task.start``, ``task.succeeded``,
``task.failed``, ``task.retried``, ``task.end``, ``task.revoked``, ``task.rejected``,
``task.unknown``, ``task.worker_lost``.

With ``worker_logging`` (the default) the worker's logging is
:func:`agent_tracing.configure_logging`, so Celery's own lines come out in the schema with the
task's context, and a prefork child flushes its queued lines before it exits. A setup the process
made itself before the worker started (``configure_logging(json_output="w.jsonl")`` in the module
the worker imports) is kept: ``--loglevel`` and ``--logfile`` fill in only the level and the
JSON output it left out (``instrument_celery``'s ``logging_options`` say the rest).

Celery's own outcome line of a run ("succeeded in", "retry", "raised ...", "ignored") is not
written where a lifecycle line already says it (:mod:`agent_tracing.celery.duplicates`;
``TaskLogOptions(keep_celery_task_lines=True)`` keeps it).
"""

from __future__ import annotations

from agent_tracing.celery.headers import (
    HEADER_CONTEXT,
    HEADER_CORRELATION_ID,
    context_from_headers,
    inject_context,
)
from agent_tracing.celery.instrument import instrument_celery, is_instrumented, uninstrument_celery
from agent_tracing.celery.options import LOGGER_NAME, TaskLogOptions

__all__ = [
    "HEADER_CONTEXT",
    "HEADER_CORRELATION_ID",
    "LOGGER_NAME",
    "TaskLogOptions",
    "context_from_headers",
    "inject_context",
    "instrument_celery",
    "is_instrumented",
    "uninstrument_celery",
]
