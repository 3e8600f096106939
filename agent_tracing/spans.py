"""Spans: the unit of work every integration shares (an HTTP request, a task, an agent run...).

A span gets a new ``span_id``, takes the enclosing span as its ``parent_span_id``, binds both (and
any context fields given) for the lines inside it, and logs ``<kind>.start`` and ``<kind>.end``
with ``duration_ms`` and ``status``. A span that ends with an exception logs its end at ERROR with
the exception. Carried across processes (task headers, environment variables), the parent id links
one operation into one tree.

The keys a span writes for itself (``span``, ``duration_ms``, ``status``) are never overwritten by
the caller's data: a caller's value for one of them is kept beside it, under the same name followed
by ``_`` (``span.set(status="completed")`` gives ``"status": "ok"`` and ``"status_": "completed"``).
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from contextvars import Token
from types import TracebackType
from typing import Any, TypeVar, cast

from agent_tracing import schema as _schema
from agent_tracing.context import (
    _raw_context,
    bind_contextvars,
    reset_contextvars,
)
from agent_tracing.logger import BoundLogger, get_logger

__all__ = ["Span", "new_span_id", "span"]

F = TypeVar("F", bound=Callable[..., Any])
#: The ``data`` keys a span's events carry for the span itself.
RESERVED_KEYS = frozenset(("span", "duration_ms", "status"))


def _with_user_data(payload: dict[str, Any], *sources: Mapping[str, Any]) -> dict[str, Any]:
    """Add the caller's ``sources`` to ``payload``: a reserved key is kept as ``<key>_``."""
    for source in sources:
        for key, value in source.items():
            payload[f"{key}_" if key in RESERVED_KEYS else key] = value
    return payload


_random = random.Random()  # ids need uniqueness, not secrecy; this is the fast one
# A forked child (a prefork worker) must not draw the same ids as its parent and siblings.
os.register_at_fork(after_in_child=_random.seed)


def new_span_id() -> str:
    """Return a new 16-hex-digit span id."""
    return f"{_random.getrandbits(64):016x}"


class Span:
    """One unit of work in the trace tree (see the module docstring).

    Use it as ``with span("create strategy", kind="service"):``, ``async with``, as a decorator, or
    with explicit :meth:`start` / :meth:`finish` where the start and the end are in different
    callbacks (then call both in the same context).

    Args:
        name: What the work is (a route, a task name, a node...).
        kind: The event prefix: ``http.request`` logs ``http.request.start`` and
            ``http.request.end``.
        logger: Where the events go (a name or a logger); default ``agent_tracing.span``.
        level: Level of the start and successful end events.
        parent_span_id: The parent, when it comes from elsewhere (a task header); default the
            enclosing span.
        span_id: Use this id instead of a new one.
        data: Extra ``data`` for the start event.
        log_start: Log the start event (the end is always logged).
        **fields: Context fields (``correlation_id``, ``user_id``, ``strategy_id``, ``backtest_id``,
            ``component``) are bound for the span; any other key goes into the start event's data.
    """

    __slots__ = (
        "_end_data",
        "_started",
        "_token",
        "data",
        "fields",
        "kind",
        "level",
        "log_start",
        "logger",
        "name",
        "parent_span_id",
        "span_id",
        "status",
    )

    def __init__(
        self,
        name: str,
        kind: str = "span",
        *,
        logger: BoundLogger | logging.Logger | str | None = None,
        level: int = logging.INFO,
        parent_span_id: str | None = None,
        span_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        log_start: bool = True,
        **fields: Any,
    ) -> None:
        self.name = name
        self.kind = kind
        if isinstance(logger, BoundLogger):
            self.logger = logger
        elif isinstance(logger, logging.Logger):
            self.logger = BoundLogger(logger)
        else:
            self.logger = get_logger(logger or "agent_tracing.span")
        self.level = level
        self.log_start = log_start
        context = _schema.context_fields()
        self.fields = {k: v for k, v in fields.items() if k in context}
        extra = {k: v for k, v in fields.items() if k not in context}
        self.data: dict[str, Any] = {**extra, **(data or {})}
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.status: str | None = None
        self._token: Token[Mapping[str, Any]] | None = None
        self._started = 0.0
        self._end_data: dict[str, Any] = {}

    # -- explicit life cycle -------------------------------------------------------------------
    def start(self) -> Span:
        """Bind the span and log its start event; returns the span."""
        self.span_id = self.span_id or new_span_id()
        if self.parent_span_id is None:
            self.parent_span_id = _raw_context().get("span_id")
        self._token = bind_contextvars(
            span_id=self.span_id, parent_span_id=self.parent_span_id, **self.fields
        )
        self._started = time.perf_counter()
        if self.log_start:
            try:
                self.logger.log(
                    self.level,
                    "%s started",
                    self.name,
                    event=f"{self.kind}.start",
                    data=_with_user_data({"span": self.name}, self.data),
                )
            except Exception:  # pragma: no cover - logging never raises into the caller
                pass
        return self

    def set(self, **data: Any) -> None:
        """Add ``data`` to the end event (a status code, a result summary...).

        The span's own keys are not replaced: ``set(status="completed")`` is written as
        ``status_`` beside the span's ``status`` (see the module docstring).
        """
        self._end_data.update(data)

    @property
    def duration_ms(self) -> float:
        """Milliseconds since the span started."""
        return round((time.perf_counter() - self._started) * 1000, 3)

    def finish(
        self,
        exc: BaseException | None = None,
        *,
        status: str | None = None,
        level: int | None = None,
        message: str | None = None,
        data: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Log the end event and unbind the span (exactly the token :meth:`start` set).

        Args:
            exc: The exception the work ended with: status ``error``, level ERROR, traceback.
            status: Override the status (``ok`` / ``error`` by default).
            level: Override the end event's level.
            message: Override the end event's message.
            data: More data for the end event (a reserved key is kept as ``<key>_``).
            fields: Context fields (``user_id``, ``strategy_id``...) for the end event's top
                level only, such as a user id learnt inside the span after its bindings were
                undone; other keys are ignored.
        """
        try:
            self.status = status or ("error" if exc is not None else "ok")
            end_level = (
                level
                if level is not None
                else (logging.ERROR if self.status == "error" else self.level)
            )
            payload = _with_user_data(
                {"span": self.name, "duration_ms": self.duration_ms, "status": self.status},
                self._end_data,
                data or {},
            )
            if message is None:
                message = (
                    f"{self.name} failed" if self.status == "error" else f"{self.name} finished"
                )
            exc_info: Any = exc if exc is not None else None
            context = _schema.context_fields()
            line_fields = (
                {k: v for k, v in fields.items() if v is not None and k in context}
                if fields
                else {}
            )
            self.logger.log(
                end_level,
                "%s",
                message,
                event=f"{self.kind}.end",
                data=payload,
                exc_info=exc_info,
                **line_fields,
            )
        except Exception:  # pragma: no cover - logging never raises into the caller
            pass
        finally:
            token, self._token = self._token, None
            if token is not None:
                reset_contextvars(token)

    # -- context manager and decorator ----------------------------------------------------------
    def __enter__(self) -> Span:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(exc)

    async def __aenter__(self) -> Span:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(exc)

    def _copy(self) -> Span:
        return Span(
            self.name,
            self.kind,
            logger=self.logger,
            level=self.level,
            data=self.data,
            log_start=self.log_start,
            **self.fields,
        )

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._copy():
                    return await func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._copy():
                return func(*args, **kwargs)

        return cast(F, wrapper)


span = Span
"""``span(name, kind=..., **fields)``: the lower-case spelling used in code (``with span(...)``)."""
