"""Context that flows by itself: correlation id, user/strategy/backtest ids, component, span.

The context is one immutable mapping held in a single :class:`~contextvars.ContextVar`, so a log
call reads it with one lookup and a copied context (asyncio tasks, ``copy_context().run`` in
threads) carries every field at once. It is never mutated in place: binding creates a new mapping
and keeps the token, and leaving the binding resets exactly that token.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar, cast

from agent_tracing.schema import TOP_LEVEL

__all__ = [
    "bind",
    "bind_contextvars",
    "current_context",
    "get_context_value",
    "new_correlation_id",
    "replace_contextvars",
    "reset_contextvars",
]

# The fields a binding sets at the top level of every line (the schema's context and span
# fields, see :mod:`agent_tracing.schema`); any other bound key goes into ``data``.
_TOP_LEVEL = TOP_LEVEL
#: Where bound keys that are not schema fields are kept inside the context mapping (they are
#: added to each line's ``data``). A name no keyword argument can collide with.
EXTRA_KEY = "\x00extra"

# The bound mapping is a plain dict that is never mutated after it is set (every binding builds a
# new one): reading a dict is the cheapest lookup a log call can make.
_EMPTY: Mapping[str, Any] = {}
_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("agent_tracing_context", default=_EMPTY)

F = TypeVar("F", bound=Callable[..., Any])
#: One ``bind`` object's open entries in a context: (its context token, its stack token).
_Entries = tuple[tuple[Token[Mapping[str, Any]], Token[Any]], ...]


def new_correlation_id() -> str:
    """Return a new correlation id (a random UUID4 string)."""
    # uuid.uuid4() with the version and variant bits set by hand: the same string from the same
    # randomness (os.urandom) in a third of the time, since one is made for every request.
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def current_context() -> dict[str, Any]:
    """Return a copy of the context bound here (schema fields, span ids and extra keys)."""
    ctx = _CONTEXT.get()
    out = {k: v for k, v in ctx.items() if k != EXTRA_KEY}
    extra = ctx.get(EXTRA_KEY)
    if extra:
        out.update(extra)
    return out


def get_context_value(key: str, default: Any = None) -> Any:
    """Return one bound value, or ``default`` when it is not bound."""
    ctx = _CONTEXT.get()
    if key in _TOP_LEVEL:
        return ctx.get(key, default)
    return ctx.get(EXTRA_KEY, _EMPTY).get(key, default)


def _raw_context() -> Mapping[str, Any]:
    """Return the bound mapping itself (read-only by convention; no copy, for the hot path)."""
    return _CONTEXT.get()


def bind_contextvars(**fields: Any) -> Token[Mapping[str, Any]]:
    """Bind ``fields`` on top of the current context and return the token that undoes it.

    A value of ``None`` unbinds that key. Prefer :class:`bind`, which resets for you; use this pair
    where the start and the end of a unit of work are in different callbacks (signal handlers).
    """
    return _CONTEXT.set(_merge(_CONTEXT.get(), fields))


def _merge(base: Mapping[str, Any], fields: Mapping[str, Any]) -> Mapping[str, Any]:
    merged = dict(base)
    extra: dict[str, Any] | None = None
    for key, value in fields.items():
        if key in _TOP_LEVEL:
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
            continue
        if extra is None:
            extra = dict(base.get(EXTRA_KEY, _EMPTY))
        if value is None:
            extra.pop(key, None)
        else:
            extra[key] = value
    if extra is not None:
        if extra:
            merged[EXTRA_KEY] = extra
        else:
            merged.pop(EXTRA_KEY, None)
    return merged


def reset_contextvars(token: Token[Mapping[str, Any]]) -> None:
    """Restore the context to what it was before the binding that returned ``token``."""
    _CONTEXT.reset(token)


def replace_contextvars(fields: Mapping[str, Any]) -> Token[Mapping[str, Any]]:
    """Replace the whole context by ``fields`` (a context carried from elsewhere) and return the
    token that restores the previous one. Used where a unit of work must not inherit what the
    thread happened to hold before (a task in a reused worker process)."""
    return _CONTEXT.set(_merge(_EMPTY, fields))


class bind:
    """Bind context fields for a block or a function, restoring exactly the previous values after.

    Works as a context manager (``with bind(user_id="u1"):``), an async context manager and a
    decorator of sync and async functions (each call binds afresh, so concurrent calls never share
    a token). One object may be entered by several threads or tasks at once, or again inside its
    own block: each entry keeps its own token and leaving it undoes that entry only. Context fields
    (:func:`agent_tracing.schema.context_fields`) and span ids appear at the top level of every
    line logged inside; any other key is added to each line's ``data``. ``None`` unbinds a key.
    """

    __slots__ = ("_entries", "_fields")

    def __init__(self, **fields: Any) -> None:
        self._fields = fields
        # The entries of this object open in the current context, innermost last: each one's
        # token of the bound context and the token that pops it from this stack. Held in a
        # context variable of its own (made on the first ``with``), so that threads and tasks
        # entering one object at the same time each see and unwind only their own entries.
        self._entries: ContextVar[_Entries] | None = None

    def __enter__(self) -> dict[str, Any]:
        entries = self._entries
        if entries is None:
            entries = self._entries = ContextVar("agent_tracing_bind", default=())
        token = bind_contextvars(**self._fields)
        stack = entries.get()
        # The stack is a new tuple each time (a copied context shares the old one unchanged).
        entries.set((*stack, (token, entries.set(stack))))
        return current_context()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entries = self._entries
        if entries is None:
            return
        stack = entries.get()
        if not stack:
            return  # an exit without an entry in this context (a task copied the context)
        token, popped = stack[-1]
        try:
            # Resetting to the value before this entry also removes the variable from the
            # context after the outermost entry, so a long-lived thread does not collect one
            # variable per ``bind`` object it ever entered.
            entries.reset(popped)
            _CONTEXT.reset(token)
        except ValueError:  # pragma: no cover - entered in another context: nothing of ours
            pass

    async def __aenter__(self) -> dict[str, Any]:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        fields = self._fields
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                token = bind_contextvars(**fields)
                try:
                    return await func(*args, **kwargs)
                finally:
                    _CONTEXT.reset(token)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = bind_contextvars(**fields)
            try:
                return func(*args, **kwargs)
            finally:
                _CONTEXT.reset(token)

        return cast(F, wrapper)
