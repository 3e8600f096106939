"""JSON-view handlers: a stream, a file (atomic appends), rotating files, and queue mode.

Every handler here reports its own failure once on stderr and then only counts it, so a broken
stream (``/dev/full``, a closed pipe) never floods stderr nor stops the other handlers. File
handlers write each line with one ``write`` call on a file opened with ``O_APPEND``, so lines from
several processes never tear into each other.
"""

from __future__ import annotations

import copy
import datetime as _dt
import enum
import fcntl
import logging
import logging.handlers
import os
import sys
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from agent_tracing._fastpath import WRITERS
from agent_tracing.context import EXTRA_KEY, _raw_context
from agent_tracing.encoding import Sanitizer, _type_name, get_sanitizer, safe_repr
from agent_tracing.formatters import JsonFormatter
from agent_tracing.logger import SITE_FREE, _Record, fill_caller
from agent_tracing.records import (
    ATTR_CONTEXT,
    ATTR_DATA,
    ATTR_EXCEPTION,
    ATTR_FIELDS,
    adopt_extra,
    exception_fields,
)

__all__ = [
    "ConsoleStreamHandler",
    "ContextQueueHandler",
    "JsonFileHandler",
    "JsonStreamHandler",
    "RotatingJsonFileHandler",
    "TimedRotatingJsonFileHandler",
]


class _ReportOnce:
    """``handleError`` that prints the first failure of a handler and counts the rest; ``handle``
    that attaches the context to foreign records and reads their ``extra`` (what
    :class:`ContextFilter` does) without the filter machinery on the hot path."""

    write_failures: int = 0
    filters: list[Any]
    lock: Any

    #: Whether ``emit`` runs under the handler lock; a file appended whole with ``O_APPEND``, or
    #: a thread-safe queue, needs none.
    _needs_lock = True

    def handle(self, record: logging.LogRecord) -> bool:
        attrs = record.__dict__
        if ATTR_CONTEXT not in attrs:
            attrs[ATTR_CONTEXT] = _raw_context()
            if ATTR_FIELDS not in attrs:
                adopt_extra(record)  # in the caller's thread, before the queue's copy
        if self.filters:
            fill_caller(record)  # a filter may read the caller
            if not self.filter(record):  # type: ignore[attr-defined]
                return False
        if self._needs_lock:
            with self.lock:
                self.emit(record)  # type: ignore[attr-defined]
        else:
            self.emit(record)  # type: ignore[attr-defined]
        return True

    def handleError(self, record: logging.LogRecord) -> None:
        self.write_failures += 1
        if self.write_failures > 1 or not logging.raiseExceptions:
            return
        try:
            error = sys.exc_info()[1]
            sys.stderr.write(
                f"agent_tracing: {type(self).__name__} could not write a log record "
                f"({type(error).__name__}: {error}); further failures of this handler are "
                "counted in its `write_failures` attribute, not printed\n"
            )
            sys.stderr.flush()
        except Exception:  # pragma: no cover - stderr itself is gone
            pass


_monotonic = time.monotonic
#: The most of a deleted file's tail written again to the new file.
_MAX_CARRY = 16 * 1024 * 1024


def _line(handler: logging.Handler, record: logging.LogRecord) -> bytes:
    formatter = handler.formatter
    if isinstance(formatter, JsonFormatter):
        return formatter.format_bytes(record)
    return (handler.format(record) + "\n").encode("utf-8", "backslashreplace")


class JsonStreamHandler(_ReportOnce, logging.StreamHandler):  # type: ignore[type-arg]
    """JSON lines to a text stream (stdout by default)."""

    def __init__(self, stream: Any = None, *, formatter: logging.Formatter | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stdout)
        self.setFormatter(formatter or JsonFormatter())

    def format(self, record: logging.LogRecord) -> str:
        if self.formatter.__class__ is not JsonFormatter:
            fill_caller(record)  # another formatter may show the caller
        return super().format(record)

    def append_line(self, line: bytes, record: logging.LogRecord | None = None) -> None:
        """Write one line as ``emit`` writes a record's (the logger's fast path; the caller holds
        the handler lock); a failure is reported by ``handleError``, never raised."""
        try:
            self.stream.write(line[:-1].decode("utf-8") + self.terminator)
            self.flush()
        except RecursionError:  # pragma: no cover - as the stdlib does
            raise
        except Exception:
            self.handleError(record)  # type: ignore[arg-type]


class ConsoleStreamHandler(_ReportOnce, logging.StreamHandler):  # type: ignore[type-arg]
    """The console view's handler: a ``StreamHandler`` whose failures (stdout on a full disk, a
    closed pipe) are reported once on stderr, not as one traceback per line."""


class _BinaryFileMixin:
    """Open the file unbuffered in binary append mode; one ``write`` per line.

    The path is watched as the stdlib's ``WatchedFileHandler`` does: the file at the path is
    compared (device and inode) with the open one, and reopened when an outside rotator
    (logrotate without ``copytruncate``) moved or deleted it, so later lines go to the new file.
    The stdlib looks before every line; a ``stat`` costs an eighth of a line, so it is done at
    most every :attr:`watch_interval` seconds. A line written in between goes to the moved file,
    which still holds it; when the file was deleted instead, what was appended to it since the
    last look is written again to the new file, so no line is lost (with several processes
    appending to one file, a line another process wrote in that window can then appear twice).
    A write that fails part-way (a full disk) leaves a torn line: the next line written starts
    with a newline of its own, so it is never glued onto the torn one.
    """

    baseFilename: str
    stream: Any
    encoding: str | None
    mode: str
    lock: Any
    #: Seconds between two looks at the path (0: before every line, as the stdlib's).
    watch_interval: float = 0.01
    #: (st_dev, st_ino) of the file opened last; ``None`` before it is open.
    _opened: tuple[int, int] | None = None
    #: ``time.monotonic()`` from which the path is looked at again.
    _next_watch = 0.0
    #: A write failed part-way: the file may end in a torn line.
    _torn = False
    #: The stream replaced by a reopen, closed at the next reopen or at ``close``: another
    #: thread may still be writing its line to it (files appended whole take no lock).
    _retired: Any = None
    #: The open file's size at the last look at the path: a deleted file's lines past it were
    #: written after that look, and are written again to the new file.
    _watched_end = 0
    #: Lines of a deleted file, to be written first to the next file opened.
    _carry: bytes | None = None

    def _open(self) -> Any:
        # Readable too, so the tail of a file deleted under it can still be read.
        stream = open(self.baseFilename, "a+b", buffering=0)  # noqa: SIM115
        try:
            status = os.fstat(stream.fileno())
            self._opened = (status.st_dev, status.st_ino)
            self._watched_end = status.st_size
        except OSError:  # pragma: no cover - fstat of a file just opened
            self._opened = None
        carry, self._carry = self._carry, None
        if carry:  # what a deleted file took with it, in the order it was written
            stream.write(carry)
            self._watched_end += len(carry)
        return stream

    def _rolls(self, record: logging.LogRecord | None, line: bytes) -> bool:
        return False

    def _reopen_if_moved(self) -> None:
        self._next_watch = _monotonic() + self.watch_interval
        try:
            status = os.stat(self.baseFilename)
        except FileNotFoundError:
            pass
        except OSError:  # the path cannot be looked at now: keep writing to the open file
            return
        else:
            if (status.st_dev, status.st_ino) == self._opened:
                try:
                    self._watched_end = os.fstat(self.stream.fileno()).st_size
                except (OSError, ValueError, AttributeError):
                    pass
                return
        with self.lock:
            stream = self.stream
            if stream is None:
                return
            retired, self._retired = self._retired, stream
            self.stream = None
            self._torn = False  # a torn line, if any, stays in the old file
            self._carry = self._deleted_tail(stream)
            if retired is not None:
                retired.close()

    def _deleted_tail(self, stream: Any) -> bytes | None:
        """What was written to ``stream`` since the last look, if its file was deleted."""
        try:
            fd = stream.fileno()
            status = os.fstat(fd)
            if status.st_nlink:  # moved, not deleted: the lines are in the moved file
                return None
            start = self._watched_end
            size = min(status.st_size - start, _MAX_CARRY)
            tail = os.pread(fd, size, status.st_size - size) if size > 0 else b""
        except (OSError, ValueError):
            return None
        if tail and not tail.endswith(b"\n"):
            tail += b"\n"  # a torn last line is never glued to the next one
        return tail or None

    def _after_torn(self, stream: Any, line: bytes) -> bytes:
        """Start ``line`` with a newline unless the open file already ends with one."""
        self._torn = False
        try:
            fd = stream.fileno()
            end = os.fstat(fd).st_size
            if end == 0 or os.pread(fd, 1, end - 1) == b"\n":
                return line
        except (OSError, ValueError):
            pass
        return b"\n" + line

    def emit(self, record: logging.LogRecord) -> None:
        try:
            formatter = self.formatter  # type: ignore[attr-defined]
            if formatter.__class__ is JsonFormatter:
                line = formatter.format_bytes(record)
            else:
                fill_caller(record)  # another formatter may show the caller
                line = _line(self, record)  # type: ignore[arg-type]
        except RecursionError:  # pragma: no cover - as the stdlib does
            raise
        except Exception:
            self.handleError(record)  # type: ignore[attr-defined]
            return
        self.append_line(line, record)

    def append_line(self, line: bytes, record: logging.LogRecord | None = None) -> None:
        """Append one whole line (rotating, reopening a moved file, healing a torn line first);
        a failure is reported by ``handleError``, never raised. ``record`` is the line's record,
        when there is one (the logger's fast path has none)."""
        try:
            if self.stream is not None and _monotonic() >= self._next_watch:
                self._reopen_if_moved()
            if self._rolls(record, line):
                self.doRollover()  # type: ignore[attr-defined]
            stream = self.stream
            if stream is None:
                stream = self.stream = self._open()
            if self._torn:
                line = self._after_torn(stream, line)
            try:
                written = stream.write(line)
                if written is not None and written < len(line):  # a short write: finish it
                    view = memoryview(line)[written:]
                    while view:
                        view = view[stream.write(view) :]
            except Exception:
                self._torn = True
                raise
        except RecursionError:  # pragma: no cover - as the stdlib does
            raise
        except Exception:
            self.handleError(record)  # type: ignore[attr-defined]

    def close(self) -> None:
        retired, self._retired = self._retired, None
        try:
            if retired is not None:
                retired.close()
        finally:
            super().close()  # type: ignore[misc]


class JsonFileHandler(_BinaryFileMixin, _ReportOnce, logging.FileHandler):
    """JSON lines appended to a file.

    Each line is one ``write`` on an unbuffered ``O_APPEND`` file, which the kernel appends whole:
    no lock is needed between threads (nor between processes sharing the file).
    """

    _needs_lock = False

    def __init__(
        self, filename: str, *, delay: bool = False, formatter: logging.Formatter | None = None
    ) -> None:
        super().__init__(filename, mode="ab", delay=delay)
        self.setFormatter(formatter or JsonFormatter())


class RotatingJsonFileHandler(_BinaryFileMixin, _ReportOnce, logging.handlers.RotatingFileHandler):
    """JSON lines to a file rotated by size (``max_bytes``, keeping ``backup_count`` files).

    Safe with several processes writing the same file (a web server and its workers): lines are
    whole appends, and the rotation itself runs under an exclusive ``flock`` on ``<file>.lock``.
    A process that finds the file already rotated by another one reopens the new file instead of
    rotating again, so no line is lost or duplicated while fewer than ``backup_count`` rotations
    happen between two of its writes.
    """

    def __init__(
        self,
        filename: str,
        *,
        max_bytes: int = 10 * 1024 * 1024,
        backup_count: int = 5,
        delay: bool = False,
        formatter: logging.Formatter | None = None,
    ) -> None:
        super().__init__(
            filename, mode="ab", maxBytes=max_bytes, backupCount=backup_count, delay=delay
        )
        self.setFormatter(formatter or JsonFormatter())

    def _rolls(self, record: logging.LogRecord | None, line: bytes) -> bool:
        if self.maxBytes <= 0:
            return False
        if self.stream is None:
            self.stream = self._open()
        if os.fstat(self.stream.fileno()).st_size + len(line) <= self.maxBytes:
            return False
        with open(f"{self.baseFilename}.lock", "ab") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                mine = os.fstat(self.stream.fileno()).st_ino
                try:
                    current = os.stat(self.baseFilename).st_ino
                except FileNotFoundError:
                    current = -1
                if current != mine:  # another process rotated: write to the new file
                    self.stream.close()
                    self.stream = self._open()
                    return False
                self.doRollover()
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        return False  # rotated already, under the lock


class TimedRotatingJsonFileHandler(
    _BinaryFileMixin, _ReportOnce, logging.handlers.TimedRotatingFileHandler
):
    """JSON lines to a file rotated by time (``when``/``interval`` as the stdlib's, in UTC)."""

    def __init__(
        self,
        filename: str,
        *,
        when: str = "midnight",
        interval: int = 1,
        backup_count: int = 7,
        delay: bool = False,
        formatter: logging.Formatter | None = None,
    ) -> None:
        super().__init__(
            filename,
            when=when,
            interval=interval,
            backupCount=backup_count,
            delay=delay,
            utc=True,
        )
        self.mode = "ab"
        self.setFormatter(formatter or JsonFormatter())

    def _rolls(self, record: logging.LogRecord | None, line: bytes) -> bool:
        # The stdlib reads the clock and the path, not the record (3.11 to 3.13).
        return bool(self.shouldRollover(record))  # type: ignore[arg-type]


class ContextQueueHandler(_ReportOnce, logging.handlers.QueueHandler):
    """The caller's side of queue mode: capture the context, keep the exception, enqueue.

    The stdlib's ``prepare()`` folds the traceback into the message and drops ``exc_info``; this one
    keeps the message and the exception apart (as ``{type, message, traceback}``) so the JSON view
    behind the listener still has an ``exception`` object.
    """

    # No handler lock: preparing reads the record and builds a new one, and the queue is
    # thread-safe; the caller only pays for the copy and the put.
    _needs_lock = False

    def handle(self, record: logging.LogRecord) -> bool:
        # ``_ReportOnce.handle`` and ``emit`` in one call: this is the whole of the caller's cost.
        attrs = record.__dict__
        if ATTR_CONTEXT not in attrs:
            attrs[ATTR_CONTEXT] = _raw_context()
            if ATTR_FIELDS not in attrs:
                adopt_extra(record)  # in the caller's thread, before the queue's copy
        if self.filters:
            fill_caller(record)  # a filter may read the caller
            if not self.filter(record):
                return False
        try:
            self.queue.put_nowait(self.prepare(record))  # what ``enqueue`` does, one call less
        except Exception:
            self.handleError(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(self.prepare(record))
        except Exception:
            self.handleError(record)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        msg = record.msg
        if record.__class__ in _PLAIN_RECORDS:
            handlers = _root.handlers
            if (
                handlers
                and handlers[-1] is self
                and msg.__class__ is str
                and not record.args
                and not record.exc_info
                and not record.exc_text
            ):
                # The root's last handler: no handler sees the record after this one, and
                # nothing below changes what an earlier one saw (the values snapshot are equal
                # copies), so the record itself is queued, without the copy.
                prepared = record
            else:
                # What ``copy.copy`` does for a plain record (a new instance, the attributes
                # copied) without the pickle protocol's detour.
                prepared = _new_object(record.__class__)
                prepared.__dict__.update(record.__dict__)
        else:
            prepared = copy.copy(record)
        if msg.__class__ is not str or record.args:
            try:
                prepared.msg = record.getMessage()
            except Exception:
                prepared.msg = (
                    f"{safe_repr(record.msg)} (unformattable with args {safe_repr(record.args)})"
                )
        if prepared.args:
            prepared.args = None
        attrs = prepared.__dict__
        # The caller may change what it passed once the call returns (a dict it reuses, a list it
        # appends to): the line written later by the listener must show the values of the call.
        data = attrs.get(ATTR_DATA)
        if data is not None:
            try:
                if type(data) is dict:
                    # The common case inline: a dict of plain values is copied shallow.
                    immutable = _IMMUTABLE
                    for item in data.values():
                        if type(item) not in immutable:  # type() is cheaper than __class__
                            attrs[ATTR_DATA] = _snapshot_data(data)
                            break
                    else:
                        attrs[ATTR_DATA] = data.copy()
                elif type(data) not in _IMMUTABLE:
                    attrs[ATTR_DATA] = _snapshot_data(data)
            except Exception:  # changed by another thread meanwhile
                attrs[ATTR_DATA] = _snapshot_data(data)
        fields = attrs.get(ATTR_FIELDS)
        if fields:
            attrs[ATTR_FIELDS] = _snapshot_data(fields)
        ctx = attrs.get(ATTR_CONTEXT)
        if ctx and ctx is not _safe_context:
            attrs[ATTR_CONTEXT] = _snapshot_context(ctx)
        if record.exc_info or record.exc_text:
            exc = exception_fields(record.exc_info, record.exc_text)
            if exc is not None:  # None: ``exc_info`` was (None, None, None)
                attrs[ATTR_EXCEPTION] = exc
                prepared.exc_text = exc["traceback"]
            prepared.exc_info = None
        prepared.message = prepared.msg
        return prepared


_new_object = object.__new__
_root = logging.getLogger()
_PLAIN_RECORDS = frozenset((logging.LogRecord, _Record))

#: Value types whose instances cannot change: a queued record may keep them by reference.
_IMMUTABLE = frozenset(
    (
        str,
        int,
        float,
        bool,
        type(None),
        bytes,
        complex,
        Decimal,
        uuid.UUID,
        _dt.datetime,
        _dt.date,
        _dt.time,
        _dt.timedelta,
        frozenset,
    )
)


class _Snapshot:
    """Copy what a line will show of a value, as it is now.

    Containers are copied, immutable values kept, so the formatter later writes exactly the line
    it would have written at the call (same truncation marks, cycles and depth markers); any other
    object (a dataclass, a model) is turned into its JSON-safe cleaned form now. Only what the
    line can show is walked: past ``max_items`` the rest is kept shallow (it is only counted),
    past ``max_depth`` the formatter's marker is written in its place.
    """

    __slots__ = ("max_depth", "max_items", "memo", "sanitizer")

    def __init__(self, sanitizer: Sanitizer) -> None:
        self.sanitizer = sanitizer
        self.max_items = sanitizer.limits.max_items
        self.max_depth = sanitizer.limits.max_depth
        # Copies by the original's id: a cycle or a shared value stays one in the copy.
        self.memo: dict[int, Any] = {}

    def copy(self, value: Any, depth: int) -> Any:
        cls = type(value)
        if cls in _IMMUTABLE:
            return value
        if cls is dict:  # exact types first: an ABC ``isinstance`` costs more than the copy
            kind = 1
        elif cls is list or cls is tuple:
            kind = 2
        elif isinstance(value, str | int | float | bytes | enum.Enum):
            return value
        elif isinstance(value, Mapping):
            kind = 1
        elif isinstance(value, list | tuple):
            kind = 2
        elif isinstance(value, set):
            return set(value)  # hashable members: immutable in practice
        else:
            kind = 0
        if depth >= self.max_depth:
            return f"<max depth: {_type_name(value)}>"
        if kind == 0:
            return self.sanitizer.clean(value)
        memo = self.memo
        done = memo.get(id(value))
        if done is not None:
            return done
        limit = self.max_items
        immutable = _IMMUTABLE
        # Leaves only (the usual inner dict or list): one copy, the check looped in C.
        if cls is dict and immutable.issuperset(map(type, value.values())):
            return value.copy()
        if (cls is list or cls is tuple) and immutable.issuperset(map(type, value)):
            return list(value)
        if kind == 1:
            try:
                items = list(value.items())
            except Exception:
                return f"<unreadable {_type_name(value)}>"
            out: dict[Any, Any] = {}
            memo[id(value)] = out
            for index, (key, item) in enumerate(items):
                if type(item) in immutable or index >= limit:
                    out[key] = item
                else:
                    out[key] = self.copy(item, depth + 1)
            return out
        copied: list[Any] = []
        memo[id(value)] = copied
        for index, item in enumerate(value):
            if type(item) in immutable or index >= limit:
                copied.append(item)
            else:
                copied.append(self.copy(item, depth + 1))
        return copied


def _snapshot_data(data: Any) -> Any:
    """The value of ``data`` (or per-call fields) as it is now; a shallow copy when every value
    is immutable (the common case), else a copy of what the line will show."""
    try:
        if data.__class__ is dict:
            for item in data.values():
                if item.__class__ not in _IMMUTABLE:
                    break
            else:
                return data.copy()
        return _Snapshot(get_sanitizer()).copy(data, 0)
    except Exception:  # changed while being copied: the cleaned form never raises
        sanitizer = get_sanitizer()
        if isinstance(data, Mapping):
            return sanitizer.clean_mapping(data)
        return sanitizer.clean(data)


#: The last bound context found to hold immutable values only (it is never changed in place,
#: so the same mapping can be kept by reference).
_safe_context: Mapping[str, Any] | None = None


def _snapshot_context(ctx: Mapping[str, Any]) -> Mapping[str, Any]:
    global _safe_context
    if ctx is _safe_context:
        return ctx
    try:
        safe = True
        for key, value in ctx.items():
            if value.__class__ in _IMMUTABLE:
                continue
            if (
                key == EXTRA_KEY
                and value.__class__ is dict
                and all(item.__class__ in _IMMUTABLE for item in value.values())
            ):
                continue
            safe = False
            break
        if safe:
            _safe_context = ctx
            return ctx
        snapshot = _Snapshot(get_sanitizer())
        # The bound keys outside the schema are added to ``data``: copy them as data's items.
        return {
            key: (
                {name: snapshot.copy(item, 1) for name, item in value.items()}
                if key == EXTRA_KEY and isinstance(value, Mapping)
                else snapshot.copy(value, 0)
            )
            for key, value in ctx.items()
        }
    except Exception:  # pragma: no cover - a context changed in place by its owner
        return ctx


# These look the caller up themselves before a filter or a formatter other than ours sees a
# record: a record only they see skips the lookup.
SITE_FREE.update(
    (
        JsonStreamHandler,
        JsonFileHandler,
        RotatingJsonFileHandler,
        TimedRotatingJsonFileHandler,
    )
)
# These append the logger's fast-path line as their ``emit`` appends a record's.
WRITERS.update(
    (JsonStreamHandler, JsonFileHandler, RotatingJsonFileHandler, TimedRotatingJsonFileHandler)
)
