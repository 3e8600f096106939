"""Celery's own per-task outcome lines that the lifecycle lines already carry, left unwritten.

Celery's tracer (``celery.app.trace``) logs the outcome of every run: "Task X[id] succeeded in
Ys: result", "... retry: reason", "... raised unexpected: exc" (with the traceback), "... raised
expected: exc", "... ignored". Inside a run of ours each of them says again what a lifecycle line
says: ``task.end`` (status, state, duration, result), ``task.retried`` (reason, countdown or eta),
``task.failed`` (the exception with its traceback), ``task.end`` with status ``ignored``.

Such a line is dropped only when it would be a duplicate: it is logged inside a run whose span we
started (``task_prerun`` succeeded) and ``agent_tracing.celery`` is enabled for the level of the
line that replaces it. Everything else of Celery's stays: "received", internal errors, a rejected
run's reason, handler and cleanup errors, the "already completed successfully" line of a
redelivered message (no run of ours), every line of a process not instrumented.

Two parts, one rule:

- a :class:`logging.Filter` on the ``celery.app.trace`` logger, which sees every record that
  logger creates; the users' levels, handlers and filters are untouched;
- the success and retry lines, one per task, go through ``celery.app.trace.info``; a filter would
  still pay for building and dropping a record per task (the tracer decides ``logger.isEnabledFor(
  INFO)`` once, when it is built), so that module function is wrapped to skip the call instead.
  Should Celery ever move it, the filter alone drops the same lines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from celery._state import get_current_task
from celery.app import trace as _trace

from agent_tracing.celery.options import RUN_ATTR, log

__all__ = ["DuplicateFilter", "install", "is_installed", "uninstall"]

TRACE_LOGGER = "celery.app.trace"

_SUCCESS: Any = getattr(_trace, "LOG_SUCCESS", None)
_RETRY: Any = getattr(_trace, "LOG_RETRY", None)
#: ``description`` of a ``_log_error`` record -> the level of the lifecycle line that says it.
_DESCRIPTIONS = {
    "raised unexpected": logging.ERROR,  # task.failed, with the traceback
    "raised expected": logging.ERROR,  # task.failed, with the traceback
    "ignored": logging.INFO,  # task.end, status ignored
}


def _in_run(task_id: Any) -> bool:
    """Whether the task running in this thread is ``task_id`` and its run is ours."""
    task = get_current_task()
    if task is None:
        return False
    request = task.request
    return getattr(request, RUN_ATTR, None) is not None and request.id == task_id


def _duplicate(fmt: Any, context: Any) -> bool:
    """Whether Celery's line (format, context) says what a line of ours says."""
    if not isinstance(context, Mapping):
        return False
    if fmt is _SUCCESS:
        level = logging.INFO
    elif fmt is _RETRY:
        level = logging.WARNING
    else:
        description = context.get("description")
        if description.__class__ is not str or context.get("internal"):
            return False
        found = _DESCRIPTIONS.get(description)
        if found is None:
            return False
        level = found
    return log.isEnabledFor(level) and _in_run(context.get("id"))


class DuplicateFilter(logging.Filter):
    """Drop a ``celery.app.trace`` record that a lifecycle line already carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            args = record.args
            return not _duplicate(record.msg, args if isinstance(args, Mapping) else None)
        except Exception:
            return True


class _Installed:
    filter: DuplicateFilter | None = None
    original_info: Callable[..., Any] | None = None
    wrapper: Callable[..., Any] | None = None
    active = False
    lock = threading.Lock()


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    def info(fmt: Any, context: Any) -> Any:
        """``celery.app.trace.info``, silent for a line a lifecycle line already carries."""
        try:
            if (
                _Installed.active
                and (fmt is _SUCCESS or fmt is _RETRY)
                and _duplicate(fmt, context)
            ):
                return None
        except Exception:
            pass
        return original(fmt, context)

    info.__wrapped__ = original  # type: ignore[attr-defined]
    return info


def install() -> None:
    """Start dropping the duplicates (idempotent)."""
    with _Installed.lock:
        if _Installed.active:
            return
        _Installed.active = True
        _Installed.filter = DuplicateFilter()
        logging.getLogger(TRACE_LOGGER).addFilter(_Installed.filter)
        current = getattr(_trace, "info", None)
        if current is None or _SUCCESS is None:
            return
        if current is not _Installed.wrapper:
            _Installed.original_info = current
            _Installed.wrapper = _wrap(current)
            _trace.info = _Installed.wrapper


def uninstall() -> None:
    """Write Celery's lines again: remove the filter and, unless something wrapped it since,
    put back Celery's ``info`` (otherwise the wrapper stays, inactive)."""
    with _Installed.lock:
        if not _Installed.active:
            return
        _Installed.active = False
        if _Installed.filter is not None:
            logging.getLogger(TRACE_LOGGER).removeFilter(_Installed.filter)
            _Installed.filter = None
        if _Installed.wrapper is not None and getattr(_trace, "info", None) is _Installed.wrapper:
            _trace.info = _Installed.original_info
            _Installed.wrapper = None
            _Installed.original_info = None


def is_installed() -> bool:
    """Whether Celery's duplicate lines are being dropped."""
    return _Installed.active
