"""What a task message carries of the publisher's context, and how the worker reads it back.

Two headers: ``x_correlation_id`` (a plain string, easy to read in any broker tool) and
``x_trace_context`` (a small mapping: the schema's declared context fields, by default the user,
strategy and backtest ids, and the publisher's span id, which becomes the task span's parent).
Neither name collides with Celery's own ``correlation_id`` (an AMQP property the worker sets to
the task id) nor with any attribute of a task request.

The publisher's ``argsrepr`` / ``kwargsrepr`` headers (what Celery's own "received" and
"succeeded" lines print) are rebuilt from redacted copies of the arguments when a secret is found,
so a password passed to a task never reaches the worker's lines.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, MutableMapping
from typing import Any

from agent_tracing import schema as _schema
from agent_tracing.context import _raw_context
from agent_tracing.encoding import get_sanitizer, safe_repr

__all__ = [
    "HEADER_CONTEXT",
    "HEADER_CORRELATION_ID",
    "context_from_headers",
    "inject_context",
    "redact_positional",
    "redact_reprs",
    "secret_positions",
]

#: The correlation id of the publisher (a string).
HEADER_CORRELATION_ID = "x_correlation_id"
#: The rest of the publisher's context: the declared context fields (``user_id``, ``strategy_id``,
#: ``backtest_id`` by default) and ``parent_span_id`` (the publisher's current span).
HEADER_CONTEXT = "x_trace_context"
# Carried in :data:`HEADER_CONTEXT`: the schema's declared context fields (``user_id``,
# ``strategy_id``, ``backtest_id`` by default; ``component`` is not carried, a task has its own)
# and the publisher's span, read from the schema at each call.

_PLAIN = (str, int, float, bool)
#: Celery's own bound on ``argsrepr`` / ``kwargsrepr``.
REPR_MAXSIZE = 1024
# Past these, nothing reaches a repr of REPR_MAXSIZE characters (each item takes >= 3).
_WALK_ITEMS = 512
_WALK_CHARS = 4 * REPR_MAXSIZE


def _header_value(value: Any) -> Any:
    # A header must survive every serializer (json included): ids bound as UUIDs or models
    # travel as their text.
    return value if isinstance(value, _PLAIN) else safe_repr(value, 256)


def inject_context(headers: MutableMapping[str, Any]) -> bool:
    """Write the current context into task message ``headers``; return whether there was any.

    Args:
        headers: The message headers (``before_task_publish``'s ``headers``).
    """
    ctx = _raw_context()
    if not ctx:
        return False
    cid = ctx.get("correlation_id")
    if cid is not None:
        headers[HEADER_CORRELATION_ID] = _header_value(cid)
    carried: dict[str, Any] = {}
    for key in _schema.declared_fields():
        value = ctx.get(key)
        if value is not None:
            carried[key] = _header_value(value)
    span_id = ctx.get("span_id")
    if span_id is not None:
        carried["parent_span_id"] = span_id
    if carried:
        headers[HEADER_CONTEXT] = carried
    return cid is not None or bool(carried)


def context_from_headers(source: Any) -> dict[str, Any]:
    """Return the context carried by a task request or message headers (empty when none).

    Args:
        source: A task request (``task.request``, with ``.get``), a worker request context or a
            message's ``headers`` mapping.
    """
    attrs = getattr(source, "__dict__", None)
    if attrs is not None and attrs.get(HEADER_CORRELATION_ID) is not None:
        # A worker's task request keeps the message headers as attributes: read them directly.
        getter = attrs.get
    else:
        getter = getattr(source, "get", None)
        if getter is None:
            return {}
    cid = getter(HEADER_CORRELATION_ID)
    if cid is None:
        # An eager call or a request built from another request keeps them under ``headers``.
        nested = getattr(source, "headers", None)
        if isinstance(nested, Mapping):
            return context_from_headers(nested)
        out: dict[str, Any] = {}
    else:
        out = {"correlation_id": cid}
    carried = getter(HEADER_CONTEXT)
    if isinstance(carried, Mapping):
        for key in (*_schema.declared_fields(), "parent_span_id"):
            value = carried.get(key)
            if value is not None:
                out[key] = value
    return out


_POSITIONS: dict[Any, frozenset[int]] = {}


def secret_positions(task: Any) -> frozenset[int]:
    """Indexes of ``task``'s positional parameters whose names are secret (``password`` in
    ``login(username, password)``): a value passed there is a secret with no key to show it.

    Computed once per task function; a task whose signature cannot be read has none.
    """
    run = getattr(task, "run", None)
    key = getattr(run, "__func__", run)
    cached = _POSITIONS.get(key)
    if cached is not None:
        return cached
    positions: frozenset[int] = frozenset()
    try:
        redactor = get_sanitizer().redactor
        parameters = [
            p
            for p in inspect.signature(run).parameters.values()  # type: ignore[arg-type]
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        positions = frozenset(i for i, p in enumerate(parameters) if redactor.is_secret_key(p.name))
    except (TypeError, ValueError):
        pass
    if len(_POSITIONS) < 4096:
        _POSITIONS[key] = positions
    return positions


def redact_positional(args: Any, positions: frozenset[int]) -> Any:
    """``args`` with the values at ``positions`` replaced by the redaction marker."""
    if not positions or not isinstance(args, list | tuple):
        return args
    marker = get_sanitizer().redactor.marker
    clean = [marker if i in positions else value for i, value in enumerate(args)]
    return tuple(clean) if isinstance(args, tuple) else clean


class _Redacting:
    """Walk task arguments, keeping their Python shapes, and note whether anything was secret."""

    __slots__ = ("changed", "marker", "redactor")

    def __init__(self) -> None:
        redactor = get_sanitizer().redactor
        self.redactor = redactor
        self.marker = redactor.marker
        self.changed = False

    def walk(self, value: Any, depth: int = 0) -> Any:
        # Only what can show in a repr of REPR_MAXSIZE characters is walked: a task's args can be
        # a whole data set, and publishing must stay cheap.
        if isinstance(value, str):
            text = value[:_WALK_CHARS]
            clean = self.redactor.redact_text(text)
            if clean != text:
                self.changed = True
            return clean
        if depth > 8:
            return value
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for index, (key, item) in enumerate(value.items()):
                if index >= _WALK_ITEMS:
                    break
                if isinstance(key, str) and self.redactor.is_secret_key(key):
                    out[key] = self.marker
                    self.changed = True
                else:
                    out[key] = self.walk(item, depth + 1)
            return out
        if isinstance(value, list | tuple):
            items = [self.walk(item, depth + 1) for item in value[:_WALK_ITEMS]]
            return tuple(items) if isinstance(value, tuple) else items
        return value


def redact_reprs(
    headers: MutableMapping[str, Any], body: Any, positions: frozenset[int] = frozenset()
) -> bool:
    """Rebuild ``argsrepr`` / ``kwargsrepr`` from redacted arguments when they hold a secret.

    Arguments are left as they are (the task needs them); only the printable copies change.
    Returns whether a repr was replaced.

    Args:
        headers: The message headers.
        body: The message body (protocol 2: ``(args, kwargs, embed)``).
        positions: Positional arguments that are secret by their parameter's name
            (:func:`secret_positions`).
    """
    if not isinstance(body, tuple | list) or len(body) < 2:
        return False
    args, kwargs = body[0], body[1]
    walker = _Redacting()
    if positions and isinstance(args, list | tuple) and any(i < len(args) for i in positions):
        args = redact_positional(args, positions)
        walker.changed = True
    clean_args = walker.walk(tuple(args) if isinstance(args, list | tuple) else args)
    clean_kwargs = walker.walk(kwargs if isinstance(kwargs, Mapping) else {})
    if not walker.changed:
        return False
    if "argsrepr" in headers:
        headers["argsrepr"] = safe_repr(clean_args, REPR_MAXSIZE)
    if "kwargsrepr" in headers:
        headers["kwargsrepr"] = safe_repr(clean_kwargs, REPR_MAXSIZE)
    return True
