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
from typing import Any, Protocol, cast

from agent_tracing._fastpath import LEVEL_NAMES as _LEVEL_NAMES
from agent_tracing._fastpath import sole_writer as _sole_writer
from agent_tracing.context import _CONTEXT
from agent_tracing.encoding import safe_repr
from agent_tracing.records import (
    ATTR_CALLER,
    ATTR_CONTEXT,
    ATTR_DATA,
    ATTR_EVENT,
    ATTR_EXCEPTION,
    ATTR_FIELDS,
    ATTR_MESSAGE,
    EXTRA_FIELDS,
    split_extra,
)

__all__ = ["BoundLogger", "get_logger"]

DEBUG, INFO, WARNING, ERROR, CRITICAL = (
    logging.DEBUG,
    logging.INFO,
    logging.WARNING,
    logging.ERROR,
    logging.CRITICAL,
)
_EXTRA_FIELDS = EXTRA_FIELDS


def _check_keywords(keywords: dict[str, Any]) -> None:
    """Raise ``TypeError`` for a keyword that is not a field of the schema, as a call with an
    unknown keyword does (a misspelt ``usr_id`` fails loudly instead of being dropped)."""
    if not _EXTRA_FIELDS.issuperset(keywords):
        unknown = sorted(key for key in keywords if key not in _EXTRA_FIELDS)
        raise TypeError(
            f"unexpected keyword argument {unknown[0]!r}: not a context field of the schema "
            f"({', '.join(sorted(_EXTRA_FIELDS))}); put other values in data"
        )


_LogRecord = logging.LogRecord
_logging = logging
_level_to_name: dict[int, str] = logging._levelToName
# The stdlib's start time: float seconds up to 3.12, integer nanoseconds from 3.13.
_start: float | int = logging._startTime  # type: ignore[attr-defined]
_start_ns = _start if isinstance(_start, int) else round(_start * 1e9)
# Records carry the asyncio task's name from 3.12 on.
_TASK_NAMES = sys.version_info >= (3, 12)
_time_ns = time.time_ns
_getframe = sys._getframe
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
    # Outside an except block the stdlib keeps (None, None, None), which its formatters print as
    # "NoneType: None"; no exception is None here.
    return info if info[0] is not None else None


class BoundLogger:
    """A stdlib logger plus fields bound to this logger object (see :meth:`bind`).

    The level methods accept, besides the stdlib's ``exc_info``, ``stack_info``, ``stacklevel`` and
    ``extra``: ``data`` (a mapping added to the line's ``data``), ``event`` (a dotted event name)
    and, for this line only, ``correlation_id``, ``component`` and any context field of the schema
    as a keyword (by default ``user_id``, ``strategy_id``, ``backtest_id``; see
    :mod:`agent_tracing.schema`); another keyword is added to ``data``. Keys of ``extra``
    that name context fields, ``span_id``, ``parent_span_id``, ``data`` or ``event`` (a string)
    are read the same way (the seed's ``extra={"user_id": ..., "data": {...}}``); other keys of
    ``extra`` go into ``data``. A
    plain ``logging.getLogger`` logger's ``extra`` gives the same line (see
    :mod:`agent_tracing.records` for the rule).

    The record handed to the handlers is the one the stdlib's ``Logger`` would make for the same
    call (caller file, line and function honouring ``stacklevel``, ``taskName`` on 3.12+, the
    keys of ``extra`` as attributes), plus the line's fields under private names. A message that
    cannot be made from ``msg`` and ``args`` (``str()`` raises, a ``%``-format that does not match)
    reaches every handler as safe text, so no handler's formatting raises into the caller.

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
        """Return a logger adding ``fields`` (context fields, ``event``, data keys) to each line."""
        merged = dict(self._bound or {})
        merged.update(fields)
        return BoundLogger(self._logger, merged)

    def isEnabledFor(self, level: int) -> bool:
        return self._logger.isEnabledFor(level)

    def setLevel(self, level: int | str) -> None:
        self._logger.setLevel(level)

    def getEffectiveLevel(self) -> int:
        return self._logger.getEffectiveLevel()

    # The six level methods are made by ``_level_method`` from one definition (below the
    # class); each is ``log`` with its level.
    debug: _LevelMethod
    info: _LevelMethod
    warning: _LevelMethod
    error: _LevelMethod
    exception: _LevelMethod
    critical: _LevelMethod
    warn: _LevelMethod  # the stdlib's aliases
    fatal: _LevelMethod

    def log(
        self,
        level: int,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        component: str | None = None,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """Log at ``level`` (see the class docstring for the keywords)."""
        if not isinstance(level, int):
            raise TypeError("level must be an integer")
        if fields:
            _check_keywords(fields)
        if self._logger.isEnabledFor(level):
            self._log(level, msg, args, data, event, exc_info, stack_info, extra, stacklevel,
                      correlation_id, component, fields)  # fmt: skip

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
        stacklevel: int,
        correlation_id: Any,
        component: Any,
        keywords: dict[str, Any],
    ) -> None:
        fields: dict[str, Any] | None = None
        bound = self._bound
        if bound is not None or extra is not None:
            if bound is None and extra.__class__ is dict and _EXTRA_FIELDS.issuperset(extra):
                fields = dict(extra) or None  # schema fields only
            else:
                data, fields, extra_event = split_extra(bound, extra, data)
                if event is None:
                    event = extra_event
        if keywords or correlation_id is not None or component is not None:
            fields = dict(fields) if fields else {}
            if correlation_id is not None:
                fields["correlation_id"] = correlation_id
            if component is not None:
                fields["component"] = component
            for key, value in keywords.items():  # checked by the caller: schema fields
                if value is not None:
                    fields[key] = value
        logger = self._logger
        rendered = None
        if args or msg.__class__ is not str:
            msg, args, rendered = _render(msg, args)
        exc = parsed = None
        if exc_info:
            if exc_info.__class__ is dict:
                parsed = exc_info
            else:
                exc = _exc_tuple(exc_info)
        elif (
            not stack_info
            and logging._logRecordFactory is _LogRecord  # type: ignore[attr-defined]
            and (logger.__class__ is _StdLogger or _plain_logger_class(logger.__class__))
        ):
            writer = _sole_writer(logger, level)
            if writer is not None:
                # Only our JSON file handler would see the record: its line, without it.
                line = writer.formatter.line_bytes(
                    _time_ns() / 1e9, _LEVEL_NAMES[level], logger.name,
                    msg if rendered is None else rendered, _CONTEXT.get(), fields, data, event,
                )  # fmt: skip
                if writer._needs_lock:  # a rotating file: one rotation at a time
                    with writer.lock:
                        writer.append_line(line)
                else:
                    writer.append_line(line)
                return
        # The caller, as ``Logger.findCaller`` finds it: the first frame outside the logging
        # modules, ``stacklevel`` frames up. It is looked up only when something that can read
        # it sees the record (a handler, logger class or record factory that is not one of
        # ours, a filter, a formatter other than ours, ``stack_info``; see ``fill_caller``):
        # until then the record holds the stdlib's "(unknown ...)" values, and the frames it
        # names are still live while this call runs.
        sinfo = None
        pending = False
        if not _logging._srcfile:  # the application turned the lookup off, as the stdlib allows
            site = _UNKNOWN_SITE
        elif stack_info or logging._logRecordFactory is not _LogRecord:  # type: ignore[attr-defined]
            site, frame = _find_site(_getframe(1), stacklevel)
            if stack_info and frame is not None:
                sinfo = _stack_text(frame)
        else:
            site = _UNKNOWN_SITE
            pending = True
        _, pathname, filename, module, _, lineno, func = site
        if logging._logRecordFactory is _LogRecord:  # type: ignore[attr-defined]
            # The stdlib's LogRecord.__init__, inline (same attributes, same order, same values
            # on 3.11 to 3.13), with the process name cached: a third of its cost.
            now_ns = _time_ns()
            pid = _pid[0]
            cached = _pid_name
            record: logging.LogRecord = _new_record(_Record)
            record.name = logger.name
            record.msg = msg
            record.args = args
            record.levelname = _level_to_name.get(level) or logging.getLevelName(level)
            record.levelno = level
            record.pathname = pathname
            record.filename = filename
            record.module = module
            record.exc_info = exc
            record.exc_text = None
            record.stack_info = sinfo
            record.lineno = lineno
            record.funcName = func
            record.created = created = now_ns / 1e9
            msecs = (now_ns % 1_000_000_000) // 1_000_000 + 0.0
            if msecs == 999.0 and int(created) != now_ns // 1_000_000_000:
                msecs = 0.0  # the float seconds rounded up to the next second (3.13's rule)
            record.msecs = msecs
            record.relativeCreated = (now_ns - _start_ns) / 1e6
            if _logging.logThreads:
                record.thread = _get_ident()
                record.threadName = _current_thread().name
            else:
                record.thread = record.threadName = None
            if _logging.logMultiprocessing:
                record.processName = cached[1] if cached[0] == pid else _process_name(pid)
            else:
                record.processName = None
            record.process = pid if _logging.logProcesses else None
            if _TASK_NAMES:
                record.taskName = _task_name() if _logging.logAsyncioTasks else None  # type: ignore[attr-defined]
        else:
            record = _make_record(logger.name, level, pathname, lineno, msg, args, exc, func, sinfo)
        attrs = record.__dict__
        if extra is not None:
            _set_extra(attrs, extra)
        attrs[ATTR_CONTEXT] = _CONTEXT.get()
        attrs[ATTR_FIELDS] = fields
        attrs[ATTR_DATA] = data
        attrs[ATTR_EVENT] = event
        if rendered is not None:
            attrs[ATTR_MESSAGE] = (msg, args, rendered)
        if parsed is not None:
            attrs[ATTR_EXCEPTION] = parsed
        if pending:
            attrs[ATTR_CALLER] = stacklevel
        if logger.__class__ is not _StdLogger and not _plain_logger_class(logger.__class__):
            if pending:
                fill_caller(record)
            logger.handle(record)
            return
        # ``Logger.handle`` and ``callHandlers`` of the stdlib, inline: the same walk up the
        # hierarchy (filters, handler levels, propagation, the last resort) without three calls.
        if logger.disabled:
            return
        if logger.filters:
            if pending:
                fill_caller(record)
                pending = False
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
                    if pending and handler.__class__ not in SITE_FREE:
                        fill_caller(record)
                        pending = False
                    handler.handle(record)
            current = current.parent if current.propagate else None
        if not found:
            if pending:
                fill_caller(record)
            logger.callHandlers(record)  # no handler anywhere: the stdlib's last-resort rules


class _LevelMethod(Protocol):
    """A level method of :class:`BoundLogger` (``info``...): ``log`` with its level."""

    def __call__(
        self,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        component: str | None = None,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> None: ...


def _level_method(level: int, name: str, exc_default: Any = None) -> _LevelMethod:
    """``BoundLogger.log`` at ``level`` (the same keywords; ``exc_info`` defaults to
    ``exc_default``), as the method ``name``. The frames are the same as ``log``'s (the method,
    then ``_log``), so the caller is found alike."""

    def method(
        self: BoundLogger,
        msg: object,
        *args: object,
        data: Mapping[str, Any] | None = None,
        event: str | None = None,
        correlation_id: Any = None,
        component: str | None = None,
        exc_info: Any = exc_default,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        if fields:
            _check_keywords(fields)
        if self._logger.isEnabledFor(level):
            self._log(level, msg, args, data, event, exc_info, stack_info, extra, stacklevel,
                      correlation_id, component, fields)  # fmt: skip

    method.__name__ = name
    method.__qualname__ = f"BoundLogger.{name}"
    method.__doc__ = (
        f"Log at {logging.getLevelName(level)}"
        + (" with the exception being handled" if exc_default else "")
        + " (see the class docstring for the keywords)."
    )
    return cast(_LevelMethod, method)


for _name, _level, _exc in (
    ("debug", DEBUG, None),
    ("info", INFO, None),
    ("warning", WARNING, None),
    ("error", ERROR, None),
    ("exception", ERROR, True),
    ("critical", CRITICAL, None),
):
    setattr(BoundLogger, _name, _level_method(_level, _name, _exc))
BoundLogger.warn = BoundLogger.warning
BoundLogger.fatal = BoundLogger.critical

_StdLogger = logging.Logger
_OUR_FILE = os.path.normcase(BoundLogger._log.__code__.co_filename)
_LOG_CODE = BoundLogger._log.__code__
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
    """A ``LogRecord`` with the stdlib's attributes, set inline by :meth:`BoundLogger._log` (the
    record class queue mode copies cheaply)."""


def _set_extra(attrs: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Put ``extra``'s keys on the record as ``Logger.makeRecord`` does, for other handlers'
    formats; a key that would overwrite a record attribute is skipped, never raised."""
    try:
        for key, value in extra.items():
            if key not in attrs and key not in {"message", "asctime"}:
                attrs[key] = value
    except Exception:  # a mapping whose iteration raises: ``data`` already says so
        pass


def _render(msg: object, args: tuple[object, ...]) -> tuple[object, Any, str | None]:
    """Return the record's ``msg`` and ``args`` and the message they make.

    ``msg`` and ``args`` stay as given (other handlers may group lines by the template) when
    the message can be made from them; when it cannot (``str()`` raises, a ``%``-format that does
    not match, a mapping whose truth test raises), the record carries the safe text instead and no
    ``args``, so that no handler's ``getMessage()`` raises into the caller.
    """
    try:
        if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            args = args[0]  # type: ignore[assignment]  # the stdlib's "%(key)s" with one mapping
    except Exception:
        # The stdlib would raise here; the mapping can still fill the format.
        text = _made(msg, args[0], True)
        return text if text is not None else _unformattable(msg, args), (), None
    text = _made(msg, args)
    if text is None:
        return _unformattable(msg, args), (), None
    return msg, args, text


def _made(msg: object, args: Any, fill: bool = False) -> str | None:
    try:
        text = msg if msg.__class__ is str else str(msg)
        if fill or args:
            text = text % args
    except Exception:
        return None
    return text if text.__class__ is str else None


def _unformattable(msg: object, args: Any) -> str:
    if not args:
        return safe_repr(msg)
    return f"{safe_repr(msg)} (unformattable with args {safe_repr(args)})"


def _make_record(
    name: str,
    level: int,
    pathname: str,
    lineno: int,
    msg: object,
    args: Any,
    exc_info: Any,
    func: str | None,
    sinfo: str | None,
) -> logging.LogRecord:
    """A record from a record factory the application installed (the default one is built
    inline in :meth:`BoundLogger._log`)."""
    if args.__class__ is not tuple:
        args = (args,)  # the factory unwraps the single mapping itself, as the stdlib's does
    return logging.getLogRecordFactory()(
        name, level, pathname, lineno, msg, args, exc_info, func, sinfo
    )


#: pathname -> (filename, module, whether the stdlib's caller lookup skips it), as
#: ``LogRecord`` and ``findCaller`` derive them; a few entries per application.
_files: dict[str, tuple[str, str, bool]] = {}
#: A call site's record fields, keyed by (id of the code, offset of the call) and holding the code
#: object (so that its id is not reused while the entry lives): (code, pathname, filename, module,
#: internal, lineno, funcName).
_Site = tuple[Any, str, str, str, bool, int, str]
_sites: dict[tuple[int, int], _Site] = {}
_UNKNOWN_SITE: _Site = (
    None,
    "(unknown file)",
    "(unknown file)",
    "(unknown file)",  # what ``LogRecord`` derives from that pathname
    False,
    0,
    "(unknown function)",
)


#: Handler classes that read a record's caller fields (``pathname``, ``filename``, ``module``,
#: ``lineno``, ``funcName``) only through :func:`fill_caller` first: our JSON-view handlers
#: register themselves, and call it before a filter or a formatter other than ours sees the
#: record. A record seen only by such handlers skips the lookup.
SITE_FREE: set[type] = set()


def _find_site(level_frame: Any, stacklevel: Any) -> tuple[_Site, Any]:
    """The caller's site and frame, as ``Logger.findCaller`` finds them from the frame of
    the level method (``info``...)."""
    frame = level_frame.f_back  # the caller of the level method
    if frame is None:  # a call from C with no Python below
        return _UNKNOWN_SITE, None
    code = frame.f_code
    site = _sites.get((id(code), frame.f_lasti))
    if site is None or site[0] is not code:
        site = _site(frame)
    if stacklevel != 1 or site[4]:
        try:
            frame = _walk(level_frame, stacklevel)
        except TypeError:  # a stacklevel that is not a number: the direct caller
            pass
        site = _site(frame)
    return site, frame


def fill_caller(record: logging.LogRecord) -> None:
    """Set the caller fields of a record :class:`BoundLogger` left for later, if it did.

    Called from inside the record's dispatch (a handler's ``handle`` or ``emit``), while the
    ``BoundLogger._log`` call that made it is still on the stack: the level method's frame and
    its callers are found from there. Does nothing for any other record.
    """
    stacklevel = record.__dict__.pop(ATTR_CALLER, None)
    if stacklevel is None:
        return
    frame: Any = _getframe(1)
    while frame is not None and frame.f_code is not _LOG_CODE:
        frame = frame.f_back
    if frame is None or frame.f_back is None:  # not inside its dispatch: left unknown
        return
    site = _find_site(frame.f_back, stacklevel)[0]
    record.pathname = site[1]
    record.filename = site[2]
    record.module = site[3]
    record.lineno = site[5]
    record.funcName = site[6]


def _site(frame: Any) -> _Site:
    code = frame.f_code
    pathname = code.co_filename
    where = _files.get(pathname) or _file_entry(pathname)
    site = (code, pathname, where[0], where[1], where[2], frame.f_lineno, code.co_name)
    if len(_sites) >= 4096:
        _sites.clear()
    _sites[id(code), frame.f_lasti] = site
    return site


def _file_entry(pathname: str) -> tuple[str, str, bool]:
    try:
        filename = os.path.basename(pathname)
        module = os.path.splitext(filename)[0]
    except (TypeError, ValueError, AttributeError):
        filename = pathname
        module = "Unknown module"
    normal = os.path.normcase(pathname)
    # The stdlib's internal frames (its logging module, the import machinery) and ours.
    internal = normal in (_logging._srcfile, _OUR_FILE) or (
        "importlib" in normal and "_bootstrap" in normal
    )
    if len(_files) >= 1024:
        _files.clear()
    entry = (filename, module, internal)
    _files[pathname] = entry
    return entry


def _walk(frame: Any, stacklevel: int) -> Any:
    """``Logger.findCaller``'s walk from the level method's frame: ``stacklevel`` frames up,
    not counting the logging modules' own."""
    while stacklevel > 0:
        older = frame.f_back
        if older is None:
            break
        frame = older
        code = frame.f_code
        if not (_files.get(code.co_filename) or _file_entry(code.co_filename))[2]:
            stacklevel -= 1
    return frame


def _stack_text(frame: Any) -> str:
    import traceback

    text = "Stack (most recent call last):\n" + "".join(traceback.format_stack(frame))
    return text[:-1] if text.endswith("\n") else text


def _task_name() -> str | None:
    """The current asyncio task's name, as ``LogRecord`` finds it on 3.12+ (without raising
    and catching when no loop runs)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        loop = asyncio._get_running_loop()
        if loop is None:
            return None
        name: str = asyncio.current_task(loop).get_name()
    except Exception:  # no task (a callback of the loop): None, as the stdlib's lookup gives
        return None
    return name


def get_logger(name: str | None = None, component: str | None = None) -> BoundLogger:
    """Return the logger ``name`` (stdlib hierarchy), bound to ``component`` when one is given.

    Args:
        name: Dotted logger name such as ``app.db.services.backtests``; ``None`` is the root logger.
        component: The ``component`` of every line from this logger (else the logger name, or the
            component bound in the context).
    """
    logger = logging.getLogger(name)
    return BoundLogger(logger, {"component": component} if component else None)
