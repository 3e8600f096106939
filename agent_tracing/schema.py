"""The line schema in one place: its keys, their order, and which of them are context fields.

Every JSON line has the keys :func:`line_keys` returns, in that order (``exception`` follows
when there is one)::

    timestamp, level, correlation_id, component, <context fields>, message, data,
    logger, event, span_id, parent_span_id

The context fields are the seed's ``user_id``, ``strategy_id`` and ``backtest_id`` unless the
application declares its own, once, at start-up (:func:`set_context_fields`, or
``configure_logging(context_fields=...)``, or ``AGENT_TRACING_CONTEXT_FIELDS``). A declared field
is a top-level key of every line (``null`` when unknown), in the declared order; ``bind()``, a
logger call's keywords, ``extra=`` on any logger and spans set it; a Celery task and a Freqtrade
child process inherit it; the viewer filters on it.

``correlation_id`` and ``component`` are context fields of every schema, and ``span_id`` and
``parent_span_id`` are set by spans; none of them, nor another key of the line, can be declared.

Other modules read the schema through this module at call time (:func:`declared_fields`,
:data:`TOP_LEVEL`...), never a copy taken at import, so a declaration reaches all of them; those
that keep something derived from it (the formatters' caches) register a callback with
:func:`on_change`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

__all__ = [
    "DEFAULT_CONTEXT_FIELDS",
    "ENV_CONTEXT_FIELDS",
    "RESERVED_KEYS",
    "SPAN_FIELDS",
    "TOP_LEVEL",
    "context_fields",
    "declared_fields",
    "line_keys",
    "on_change",
    "parse_context_fields",
    "set_context_fields",
]

#: The context fields of the default schema (the seed's).
DEFAULT_CONTEXT_FIELDS: tuple[str, ...] = ("user_id", "strategy_id", "backtest_id")
#: Tracing fields, bound by spans.
SPAN_FIELDS: tuple[str, ...] = ("span_id", "parent_span_id")
#: The environment variable that declares the context fields (comma-separated names).
ENV_CONTEXT_FIELDS = "AGENT_TRACING_CONTEXT_FIELDS"

_HEAD: tuple[str, ...] = ("timestamp", "level", "correlation_id", "component")
_TAIL: tuple[str, ...] = ("message", "data", "logger", "event", *SPAN_FIELDS)
#: Names no declared context field may take: the line's other keys, and the keywords a logger
#: call already has (a field is also a keyword of ``log.info(...)``).
RESERVED_KEYS = frozenset(
    (*_HEAD, *_TAIL, "exception", "msg", "args", "exc_info", "stack_info", "stacklevel", "extra")
)
#: A context field's name: a lowercase identifier, short enough for a header and an env name.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

_lock = threading.Lock()
_declared: tuple[str, ...] = DEFAULT_CONTEXT_FIELDS
_context: tuple[str, ...] = ("correlation_id", "component", *DEFAULT_CONTEXT_FIELDS)
_keys: tuple[str, ...] = (*_HEAD, *DEFAULT_CONTEXT_FIELDS, *_TAIL)
_listeners: list[Callable[[], None]] = []

#: The keys read as a line's own top-level fields wherever fields are given (``bind``, a logger
#: call's keywords, ``extra=``): the context fields and the span fields. Updated in place when
#: fields are declared (new names are added before old ones leave), so a module may hold it.
TOP_LEVEL: set[str] = {*_context, *SPAN_FIELDS}


def declared_fields() -> tuple[str, ...]:
    """The declared context fields, in line order (default :data:`DEFAULT_CONTEXT_FIELDS`)."""
    return _declared


def context_fields() -> tuple[str, ...]:
    """Every context field: ``correlation_id``, ``component`` and the declared ones."""
    return _context


def line_keys() -> tuple[str, ...]:
    """The keys of every line, in order (``exception`` is added after them when there is one)."""
    return _keys


def parse_context_fields(value: str | Iterable[str]) -> tuple[str, ...]:
    """Read a declaration: names as an iterable, or as the environment variable's text
    (``"tenant_id, user_id"``).

    Raises:
        ValueError: A name is not a lowercase identifier (up to 64 characters), is a key the
            line already has (``message``, ``span_id``...), or is given twice.
    """
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",") if part.strip()]
    else:
        names = list(value)
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"context field {name!r} is not a lowercase identifier "
                "([a-z][a-z0-9_]*, at most 64 characters)"
            )
        if name in RESERVED_KEYS:
            raise ValueError(
                f"context field {name!r} is a key every line already has "
                "or a logger call's own keyword"
            )
        if name in seen:
            raise ValueError(f"context field {name!r} is declared twice")
        seen.add(name)
    return tuple(names)


def set_context_fields(value: str | Iterable[str]) -> tuple[str, ...]:
    """Declare the context fields (replacing the current ones) and return them.

    Declare once, at start-up, before lines are logged: a line being built while the schema
    changes may carry either schema. Lines already written keep theirs.

    Raises:
        ValueError: See :func:`parse_context_fields`; the schema is unchanged then.
    """
    global _declared, _context, _keys
    names = parse_context_fields(value)
    with _lock:
        if names == _declared:
            return names
        context = ("correlation_id", "component", *names)
        top = {*context, *SPAN_FIELDS}
        TOP_LEVEL.update(top)  # new names first: a known key is never missing meanwhile
        _declared, _context, _keys = names, context, (*_HEAD, *names, *_TAIL)
        TOP_LEVEL.intersection_update(top)
        listeners = list(_listeners)
    for listener in listeners:
        listener()
    return names


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` (no arguments) after every change of the declared fields."""
    with _lock:
        _listeners.append(callback)
