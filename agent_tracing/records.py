"""What our loggers attach to a ``LogRecord``, and how any record is read back into schema fields.

Our logger stores the context, the per-call fields, ``data`` and ``event`` on the record under
private attribute names, so they can never be confused with attributes other libraries put there
(Celery's records carry a ``data`` attribute of their own). Records from other loggers get the
context attached by :class:`ContextFilter` on the emitting side.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Mapping
from typing import Any

from agent_tracing.context import _raw_context

__all__ = ["ContextFilter", "exception_fields", "format_timestamp"]

ATTR_CONTEXT = "_at_ctx"
ATTR_FIELDS = "_at_fields"
ATTR_DATA = "_at_data"
ATTR_EVENT = "_at_event"
ATTR_EXCEPTION = "_at_exc"
#: ``(msg, args, text)``: the message our logger rendered at call time from that ``msg``/``args``.
ATTR_MESSAGE = "_at_msg"
#: The ``stacklevel`` of a record whose caller fields are still to be looked up (see
#: ``agent_tracing.logger.fill_caller``); absent once they are set.
ATTR_CALLER = "_at_caller"

_STANDARD_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


def level_name(record: logging.LogRecord) -> str:
    """Return one of the five standard level names for any record (custom levels are mapped)."""
    name = record.levelname
    if name in _STANDARD_LEVELS:
        return name
    number = record.levelno
    if number <= logging.DEBUG:
        return "DEBUG"
    if number <= logging.INFO:
        return "INFO"
    if number <= logging.WARNING:
        return "WARNING"
    if number <= logging.ERROR:
        return "ERROR"
    return "CRITICAL"


class ContextFilter(logging.Filter):
    """Attach the current context to records that do not carry it yet (third-party loggers).

    Put it on the handler that runs in the caller's thread: on a ``QueueHandler`` in queue mode, not
    on the handlers behind the listener, which run in another thread. Never filters anything out.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if ATTR_CONTEXT not in record.__dict__:
            record.__dict__[ATTR_CONTEXT] = _raw_context()
        return True


def record_context(record: logging.LogRecord) -> Mapping[str, Any]:
    """Return the context captured with ``record`` (or the current one, for a bare record)."""
    ctx = record.__dict__.get(ATTR_CONTEXT)
    return ctx if ctx is not None else _raw_context()


#: The second being formatted: (its epoch seconds as a float, its "YYYY-mm-ddTHH:MM:SS" text),
#: one tuple swapped whole so that threads never see a torn pair.
_ts_cache: tuple[float, str] = (float("-inf"), "")
# ".000Z" ... ".999Z"; a float offset just under one second can round to 1000 ms: it stays .999.
_MILLIS: tuple[str, ...] = (*(f".{millis:03d}Z" for millis in range(1000)), ".999Z")


def format_timestamp(created: float) -> str:
    """Format epoch seconds as ISO 8601 UTC with milliseconds and ``Z``."""
    cached = _ts_cache
    offset = created - cached[0]
    if 0.0 <= offset < 1.0:
        return cached[1] + _MILLIS[int(offset * 1000)]
    return _format_new_second(created)


def _format_new_second(created: float) -> str:
    global _ts_cache
    try:
        seconds = math.floor(created)  # before 1970 too: the millis count up from the floor
        cached = (float(seconds), time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    except (OverflowError, ValueError, OSError):  # NaN, infinities, years gmtime cannot hold
        return "1970-01-01T00:00:00.000Z"
    _ts_cache = cached
    return cached[1] + _MILLIS[int((created - cached[0]) * 1000)]


def exception_fields(
    exc_info: tuple[type[BaseException] | None, BaseException | None, Any] | None,
    exc_text: str | None = None,
) -> dict[str, Any] | None:
    """Return ``{type, message, traceback}`` of an exception, unredacted (formatters redact)."""
    if exc_info and exc_info[0] is not None:
        etype: type[BaseException] = exc_info[0]
        value, tb = exc_info[1], exc_info[2]
        try:
            text = exc_text or "".join(traceback.format_exception(etype, value, tb)).rstrip("\n")
        except Exception:
            text = exc_text or ""
        try:
            message = str(value)
        except Exception:
            message = f"<unprintable {etype.__name__}>"
        module = getattr(etype, "__module__", "builtins")
        name = (
            etype.__qualname__
            if module in ("builtins", "__main__")
            else (f"{module}.{etype.__qualname__}")
        )
        return {"type": name, "message": message, "traceback": text}
    if exc_text:
        return {"type": None, "message": None, "traceback": exc_text}
    return None
