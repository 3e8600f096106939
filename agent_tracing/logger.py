"""Loggers: stdlib-hierarchy loggers whose level methods take ``data=`` and the context fields.

``get_logger("app.api.routers.users")`` wraps ``logging.getLogger`` of that name, so levels,
handlers and propagation are the stdlib's. A call such as
``log.info("Backtest started", data={"timerange": "20240101-"}, backtest_id=7)`` adds ``data`` and
overrides the bound context for that line only. The keywords are explicit: a misspelt one is a
``TypeError``, never a silently dropped field.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from agent_tracing.context import _CONTEXT, CONTEXT_FIELDS, SPAN_FIELDS
from agent_tracing.records import ATTR_CONTEXT, ATTR_DATA, ATTR_EVENT, ATTR_EXCEPTION, ATTR_FIELDS

__all__ = ["BoundLogger", "get_logger"]

DEBUG, INFO, WARNING, ERROR, CRITICAL = (
    logging.DEBUG,
    logging.INFO,
    logging.WARNING,
    logging.ERROR,
    logging.CRITICAL,
)
_LEVEL_NAMES = {
    DEBUG: "DEBUG",
    INFO: "INFO",
    WARNING: "WARNING",
    ERROR: "ERROR",
    CRITICAL: "CRITICAL",
}
# Keys of ``extra`` (and of ``bind()``) read as the line's own schema fields. The span fields let a
# caller that tracks its own tree (a callback handler) place one line in a span without binding it.
_EXTRA_FIELDS = frozenset((*CONTEXT_FIELDS, *SPAN_FIELDS))
_LogRecord = logging.LogRecord
_start_time = logging._startTime  # type: ignore[attr-defined]
_time_ns = time.time_ns
_new_record = object.__new__


_pid_name: tuple[int, str | None] = (-1, None)
_pid = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def _process_name(pid: int) -> str | None:
    global _pid_name
    if not logging.logMultiprocessing:
        return None
    cached = _pid_name
    if cached[0] == pid:
        return cached[1]
    name = _lookup_process_name()
    _pid_name = (pid, name)
    return name


def _lookup_process_name() -> str | None:
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return "MainProcess"
    try:
        return str(mp.current_process().name)
    except Exception:  # pragma: no cover - as the stdlib does
        return None


def _exc_tuple(exc_info: Any) -> Any:
    if not exc_info:
        return None
    if isinstance(exc_info, BaseException):
        return (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple):
        return exc_info
    info = sys.exc_info()
    return info if info[0] is not None else None


class BoundLogger:
    """A stdlib logger plus fields bound to this logger object (see :meth:`bind`).

    The level methods accept, besides the stdlib's ``exc_info``, ``stack_info``, ``stacklevel`` and
    ``extra``: ``data`` (a mapping added to the line's ``data``), ``event`` (a dotted event name)
    and
    the context fields ``correlation_id``, ``user_id``, ``strategy_id``, ``backtest_id`` and
    ``component`` for this line only. Keys of ``extra`` that name context fields, ``span_id``,
    ``parent_span_id`` or ``data`` are read the same way (the seed's
    ``extra={"user_id": ..., "data": {...}}``); other keys of ``extra`` go into ``data``.

    ``exc_info`` also takes a dict ``{"type", "message", "traceback"}`` (strings or ``None``): an
    exception known only as text, such as a traceback relayed from another process; the line's
    ``exception`` object is made from it (redacted and bounded like any other).
    """

    __slots__ = ("_bound", "_logger", "name")

    def __init__(self, logger: logging.Logger, bound: Mapping[str, Any] | None = None) -> None:
        self._logger = logger
        self.name = logger.name
        self._bound: dict[str, Any] | None = dict(bound) if bound else None

    @property
    def logger(self) -> logging.Logger:
        """The stdlib logger behind this one."""
        return self._logger

    def bind(self, **fields: Any) -> BoundLogger:
        """Return a logger that adds ``fields`` (context fields or ``data`` keys) to every line."""
        merged = dict(self._bound or {})
        merged.update(fields)
        return BoundLogger(self._logger, merged)

    def isEnabledFor(self, level: int) -> bool:
        return self._logger.isEnabledFor(level)

    def setLevel(self, level: int | str) -> None:
        self._logger.setLevel(level)

    def getEffectiveLevel(self) -> int:
        return self._logger.getEffectiveLevel()

    def debug(
        self,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        user_id: Any = None,
        strategy_id: Any = None,
        backtest_id: Any = None,
        component: str | None = None,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log at DEBUG (see the class docstring for the keywords)."""
        if self._logger.isEnabledFor(DEBUG):
            self._log(DEBUG, msg, args, data, event, exc_info, stack_info, extra,
                      correlation_id, user_id, strategy_id, backtest_id, component)  # fmt: skip

    def info(
        self,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        user_id: Any = None,
        strategy_id: Any = None,
        backtest_id: Any = None,
        component: str | None = None,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log at INFO (see the class docstring for the keywords)."""
        if self._logger.isEnabledFor(INFO):
            self._log(INFO, msg, args, data, event, exc_info, stack_info, extra,
                      correlation_id, user_id, strategy_id, backtest_id, component)  # fmt: skip

    def warning(
        self,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        user_id: Any = None,
        strategy_id: Any = None,
        backtest_id: Any = None,
        component: str | None = None,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log at WARNING (see the class docstring for the keywords)."""
        if self._logger.isEnabledFor(WARNING):
            self._log(WARNING, msg, args, data, event, exc_info, stack_info, extra,
                      correlation_id, user_id, strategy_id, backtest_id, component)  # fmt: skip

    def error(
        self,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        user_id: Any = None,
        strategy_id: Any = None,
        backtest_id: Any = None,
        component: str | None = None,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log at ERROR (see the class docstring for the keywords)."""
        if self._logger.isEnabledFor(ERROR):
            self._log(ERROR, msg, args, data, event, exc_info, stack_info, extra,
                      correlation_id, user_id, strategy_id, backtest_id, component)  # fmt: skip

    def exception(
        self,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        user_id: Any = None,
        strategy_id: Any = None,
        backtest_id: Any = None,
        component: str | None = None,
        exc_info: Any = True,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log at ERROR with the exception being handled (see the class docstring)."""
        if self._logger.isEnabledFor(ERROR):
            self._log(ERROR, msg, args, data, event, exc_info, stack_info, extra,
                      correlation_id, user_id, strategy_id, backtest_id, component)  # fmt: skip

    def critical(
        self,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        user_id: Any = None,
        strategy_id: Any = None,
        backtest_id: Any = None,
        component: str | None = None,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log at CRITICAL (see the class docstring for the keywords)."""
        if self._logger.isEnabledFor(CRITICAL):
            self._log(CRITICAL, msg, args, data, event, exc_info, stack_info, extra,
                      correlation_id, user_id, strategy_id, backtest_id, component)  # fmt: skip

    def log(
        self,
        level: int,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        user_id: Any = None,
        strategy_id: Any = None,
        backtest_id: Any = None,
        component: str | None = None,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log at ``level`` (see the class docstring for the keywords)."""
        if not isinstance(level, int):
            raise TypeError("level must be an integer")
        if self._logger.isEnabledFor(level):
            self._log(level, msg, args, data, event, exc_info, stack_info, extra,
                      correlation_id, user_id, strategy_id, backtest_id, component)  # fmt: skip

    warn = warning
    fatal = critical

    def _log(
        self,
        level: int,
        msg: object,
        args: tuple[object, ...],
        data: Any,
        event: str | None,
        exc_info: Any,
        stack_info: bool,
        extra: Mapping[str, Any] | None,
        correlation_id: Any,
        user_id: Any,
        strategy_id: Any,
        backtest_id: Any,
        component: Any,
    ) -> None:
        fields: dict[str, Any] | None = None
        bound = self._bound
        if bound is not None or extra:
            if bound is None and _EXTRA_FIELDS.issuperset(extra):  # type: ignore[arg-type]
                fields = dict(extra)  # type: ignore[arg-type]  # schema fields only: no merge
            else:
                data, fields = self._merge_extra(bound, extra, data)
        if (
            correlation_id is not None
            or user_id is not None
            or strategy_id is not None
            or (backtest_id is not None or component is not None)
        ):
            fields = dict(fields) if fields else {}
            if correlation_id is not None:
                fields["correlation_id"] = correlation_id
            if user_id is not None:
                fields["user_id"] = user_id
            if strategy_id is not None:
                fields["strategy_id"] = strategy_id
            if backtest_id is not None:
                fields["backtest_id"] = backtest_id
            if component is not None:
                fields["component"] = component
        logger = self._logger
        if args and len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            args = args[0]  # type: ignore[assignment]  # the stdlib's "%(key)s" with one mapping
        exc = parsed = None
        if exc_info:
            if exc_info.__class__ is dict:
                parsed = exc_info
            else:
                exc = _exc_tuple(exc_info)
        if logging._logRecordFactory is _LogRecord:  # type: ignore[attr-defined]
            # The stdlib's LogRecord.__init__, inline, without the call-site lookup (the schema
            # has no file or line) and with the process name cached: a third of its cost.
            now_ns = _time_ns()
            pid = _pid[0]
            cached = _pid_name
            record: logging.LogRecord = _new_record(_Record)
            record.name = logger.name
            record.msg = msg
            record.args = args or None
            record.levelname = _LEVEL_NAMES.get(level) or logging.getLevelName(level)
            record.levelno = level
            record.pathname = ""
            record.filename = ""
            record.module = ""
            record.exc_info = exc
            record.exc_text = None
            record.stack_info = None
            record.lineno = 0
            record.funcName = ""
            record.created = now_ns / 1e9
            record.msecs = (now_ns % 1_000_000_000) // 1_000_000 + 0.0
            record.relativeCreated = (now_ns / 1e9 - _start_time) * 1000
            record.thread = _get_ident()
            record.threadName = _current_thread().name
            record.processName = cached[1] if cached[0] == pid else _process_name(pid)
            record.process = pid
        else:
            record = self._make_record(logger.name, level, msg, args, exc)
        attrs = record.__dict__
        attrs[ATTR_CONTEXT] = _CONTEXT.get()
        attrs[ATTR_FIELDS] = fields
        attrs[ATTR_DATA] = data
        attrs[ATTR_EVENT] = event
        if parsed is not None:
            attrs[ATTR_EXCEPTION] = parsed
        if stack_info:
            attrs["stack_info"] = _stack_text()
        if logger.__class__ is not _StdLogger and not _plain_logger_class(logger.__class__):
            logger.handle(record)
            return
        # ``Logger.handle`` and ``callHandlers`` of the stdlib, inline: the same walk up the
        # hierarchy (filters, handler levels, propagation, the last resort) without three calls.
        if logger.disabled:
            return
        if logger.filters:
            passed: Any = logger.filter(record)
            if not passed:
                return
            if isinstance(passed, logging.LogRecord):  # Python 3.12+: a filter may replace it
                record = passed
        found = 0
        level = record.levelno
        current: logging.Logger | None = logger
        while current is not None:
            for handler in current.handlers:
                found += 1
                if level >= handler.level:
                    handler.handle(record)
            current = current.parent if current.propagate else None
        if not found:
            logger.callHandlers(record)  # no handler anywhere: the stdlib's last-resort rules

    @staticmethod
    def _merge_extra(
        bound: Mapping[str, Any] | None, extra: Mapping[str, Any] | None, data: Any
    ) -> tuple[Any, dict[str, Any] | None]:
        fields: dict[str, Any] = {}
        more: dict[str, Any] = {}
        for source in (bound, extra):
            if not source:
                continue
            for key, value in source.items():
                if key in _EXTRA_FIELDS:
                    fields[key] = value
                elif key == "data" and isinstance(value, Mapping):
                    more.update(value)
                elif key == "event":
                    continue
                else:
                    more[key] = value
        if more:
            data = (
                {**more, **data}
                if isinstance(data, Mapping)
                else (more if data is None else {**more, "value": data})
            )
        return data, (fields or None)

    @staticmethod
    def _make_record(
        name: str, level: int, msg: object, args: tuple[object, ...], exc_info: Any
    ) -> logging.LogRecord:
        """A record from a record factory the application installed (the default one is built
        inline in :meth:`_log`)."""
        return logging.getLogRecordFactory()(
            name, level, "", 0, msg, args or None, exc_info, None, None
        )


_StdLogger = logging.Logger
_get_ident = threading.get_ident
_current_thread = threading.current_thread
_plain_classes: dict[type, bool] = {}


def _plain_logger_class(cls: type) -> bool:
    """Whether a ``Logger`` subclass dispatches records as the stdlib's own class does."""
    plain = _plain_classes.get(cls)
    if plain is None:
        plain = all(
            getattr(cls, name) is getattr(_StdLogger, name)
            for name in ("handle", "callHandlers", "filter")
        )
        _plain_classes[cls] = plain
    return plain


class _Record(logging.LogRecord):
    """A ``LogRecord`` with the stdlib's attributes, set by :meth:`BoundLogger._log` without
    ``findCaller`` (the record class queue mode copies cheaply)."""


def _stack_text() -> str:
    import traceback

    return "Stack (most recent call last):\n" + "".join(traceback.format_stack()[:-3]).rstrip("\n")


def get_logger(name: str | None = None, component: str | None = None) -> BoundLogger:
    """Return the logger ``name`` (stdlib hierarchy), bound to ``component`` when one is given.

    Args:
        name: Dotted logger name such as ``app.db.services.backtests``; ``None`` is the root logger.
        component: The ``component`` of every line from this logger (else the logger name, or the
            component bound in the context).
    """
    logger = logging.getLogger(name)
    return BoundLogger(logger, {"component": component} if component else None)
