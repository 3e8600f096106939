"""What our loggers attach to a ``LogRecord``, and how any record is read back into schema fields.

Our logger stores the context, the per-call fields, ``data`` and ``event`` on the record under
private attribute names, so they can never be confused with attributes other libraries put there.
Records from other loggers get the context attached by :class:`ContextFilter` (or our handlers) on
the emitting side, and their ``extra=`` keys read by :func:`adopt_extra` by the rule
:class:`~agent_tracing.logger.BoundLogger` applies to its own ``extra``:

- the context fields (``correlation_id``, ``component`` and the declared ones, by default
  ``user_id``, ``strategy_id``, ``backtest_id``; see :mod:`agent_tracing.schema`) and the span
  fields (``span_id``, ``parent_span_id``) are that line's top-level fields;
- ``data``, a mapping, is merged into the line's ``data`` (anything else is kept as
  ``data["data"]``); a ``data`` that is the record's own ``%``-format mapping is not repeated
  (Celery passes its message arguments again as ``extra={"data": context}``);
- ``event``, a string, is the line's event (anything else is kept as ``data["event"]``);
- every other key is added to ``data``.

A record's attributes that ``extra`` did not put there are told apart by name: the stdlib's own
``LogRecord`` attributes (and ``message``/``asctime``, which formatters add), private names
(a leading ``_``) and uvicorn's ``color_message`` (the message again, with colour codes) are never
read as ``extra``. An attribute a filter or another formatter set on the record before our
handler saw it is indistinguishable from ``extra`` and is read the same way.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

from agent_tracing.context import _raw_context
from agent_tracing.encoding import _type_name
from agent_tracing.schema import TOP_LEVEL

__all__ = ["ContextFilter", "adopt_extra", "exception_fields", "format_timestamp"]

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

# Keys of ``extra`` (and of ``bind()``) read as the line's own schema fields: the schema's context
# fields and the span fields (a set the schema updates in place). The span fields let a caller
# that tracks its own tree (a callback handler) place one line in a span without binding it.
EXTRA_FIELDS = TOP_LEVEL

#: A record's attributes that are never ``extra``: the stdlib's own (on this Python and as
#: python-json-logger lists them), ``taskName`` on every version, and uvicorn's coloured copy
#: of the message. Names with a leading ``_`` are skipped too.
NOT_EXTRA = frozenset(
    (
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        *RESERVED_ATTRS,
        "message",
        "asctime",
        "taskName",
        "color_message",
    )
)

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
        attrs = record.__dict__
        if ATTR_CONTEXT not in attrs:
            attrs[ATTR_CONTEXT] = _raw_context()
            if ATTR_FIELDS not in attrs:
                adopt_extra(record)
        return True


# What a foreign record carries besides ``extra`` by the time a handler of ours reads it.
_SKIPPED = NOT_EXTRA | {ATTR_CONTEXT, ATTR_FIELDS, ATTR_DATA, ATTR_EVENT, ATTR_CALLER}


def split_extra(
    bound: Mapping[str, Any] | None, extra: Mapping[str, Any] | None, data: Any
) -> tuple[Any, dict[str, Any] | None, str | None]:
    """Split bound fields and ``extra`` into the line's ``data``, schema fields and event.

    Later sources win (``extra`` over ``bound``); ``data`` given to the call wins over both.
    See the module docstring for the rule.
    """
    fields: dict[str, Any] = {}
    more: dict[str, Any] = {}
    event = None
    for source in (bound, extra):
        if source is None:
            continue
        try:
            items = list(source.items())
        except Exception:  # a mapping whose iteration raises: the line says so, never raises
            more["_unreadable_extra"] = _type_name(source)
            continue
        for key, value in items:
            if key in EXTRA_FIELDS:
                fields[key] = value
            elif key == "data" and isinstance(value, Mapping):
                try:
                    more.update(value)
                except Exception:
                    more["_unreadable_data"] = _type_name(value)
            elif key == "event" and value.__class__ is str:
                event = value
            else:
                more[key] = value
    if more:
        if isinstance(data, Mapping):
            try:
                data = {**more, **data}
            except Exception:
                data = {**more, "_unreadable_data": _type_name(data)}
        else:
            data = more if data is None else {**more, "value": data}
    return data, (fields or None), event


def adopt_extra(record: logging.LogRecord) -> None:
    """Read a foreign record's ``extra`` keys into our fields (see the module docstring).

    Sets the private attributes our own logger sets (fields, data, event), so every formatter
    and the queue's copy read them as they read ours; a record of ours is left as it is.
    """
    attrs = record.__dict__
    if ATTR_FIELDS in attrs:
        return
    data = fields = event = None
    try:
        # Most foreign records have no extra: one subset test (a quarter of a microsecond).
        if not attrs.keys() <= _SKIPPED and not all(
            name.__class__ is str and name[:1] == "_" for name in attrs.keys() - _SKIPPED
        ):
            extra = {
                name: value
                for name, value in attrs.items()
                if name not in _SKIPPED and not (name.__class__ is str and name[:1] == "_")
            }
            args = record.args
            if args and extra.get("data") is args:
                del extra["data"]  # the message's own arguments, passed again for handlers
            data, fields, event = split_extra(None, extra, None)
    except Exception:  # pragma: no cover - a record whose attributes cannot be read
        data = {"_unreadable_extra": _type_name(record)}
    attrs[ATTR_FIELDS] = fields
    attrs[ATTR_DATA] = data
    attrs[ATTR_EVENT] = event


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
