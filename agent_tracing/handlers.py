"""JSON-view handlers: a stream, a file (atomic appends), rotating files, and queue mode.

Every handler here reports its own failure once on stderr and then only counts it, so a broken
stream (``/dev/full``, a closed pipe) never floods stderr nor stops the other handlers. File
handlers write each line with one ``write`` call on a file opened with ``O_APPEND``, so lines from
several processes never tear into each other.
"""

from __future__ import annotations

import copy
import fcntl
import logging
import logging.handlers
import os
import sys
from typing import Any

from agent_tracing.context import _raw_context
from agent_tracing.encoding import safe_repr
from agent_tracing.formatters import JsonFormatter
from agent_tracing.logger import _Record
from agent_tracing.records import ATTR_CONTEXT, ATTR_EXCEPTION, exception_fields

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
    that attaches the context to foreign records (what :class:`ContextFilter` does) without the
    filter machinery on the hot path."""

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
        if self.filters and not self.filter(record):  # type: ignore[attr-defined]
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


class ConsoleStreamHandler(_ReportOnce, logging.StreamHandler):  # type: ignore[type-arg]
    """The console view's handler: a ``StreamHandler`` whose failures (stdout on a full disk, a
    closed pipe) are reported once on stderr, not as one traceback per line."""


class _BinaryFileMixin:
    """Open the file unbuffered in binary append mode; one ``write`` per line."""

    baseFilename: str
    stream: Any
    encoding: str | None
    mode: str

    def _open(self) -> Any:
        return open(self.baseFilename, "ab", buffering=0)

    def _rolls(self, record: logging.LogRecord, line: bytes) -> bool:
        return False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            formatter = self.formatter  # type: ignore[attr-defined]
            if formatter.__class__ is JsonFormatter:
                line = formatter.format_bytes(record)
            else:
                line = _line(self, record)  # type: ignore[arg-type]
            if self._rolls(record, line):
                self.doRollover()  # type: ignore[attr-defined]
            if self.stream is None:
                self.stream = self._open()
            written = self.stream.write(line)
            if written is not None and written < len(line):  # a short write: finish the line
                view = memoryview(line)[written:]
                while view:
                    view = view[self.stream.write(view) :]
        except RecursionError:  # pragma: no cover - as the stdlib does
            raise
        except Exception:
            self.handleError(record)  # type: ignore[attr-defined]


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

    def _rolls(self, record: logging.LogRecord, line: bytes) -> bool:
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

    def _rolls(self, record: logging.LogRecord, line: bytes) -> bool:
        return bool(self.shouldRollover(record))


class ContextQueueHandler(_ReportOnce, logging.handlers.QueueHandler):
    """The caller's side of queue mode: capture the context, keep the exception, enqueue.

    The stdlib's ``prepare()`` folds the traceback into the message and drops ``exc_info``; this one
    keeps the message and the exception apart (as ``{type, message, traceback}``) so the JSON view
    behind the listener still has an ``exception`` object.
    """

    # No handler lock: preparing reads the record and builds a new one, and the queue is
    # thread-safe; the caller only pays for the copy and the put.
    _needs_lock = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.enqueue(self.prepare(record))
        except Exception:
            self.handleError(record)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.__class__ in _PLAIN_RECORDS:
            # What ``copy.copy`` does for a plain record (a new instance, the attributes copied)
            # without the pickle protocol's detour.
            prepared = _new_object(record.__class__)
            prepared.__dict__.update(record.__dict__)
        else:
            prepared = copy.copy(record)
        msg = record.msg
        if msg.__class__ is not str or record.args:
            try:
                prepared.msg = record.getMessage()
            except Exception:
                prepared.msg = (
                    f"{safe_repr(record.msg)} (unformattable with args {safe_repr(record.args)})"
                )
        prepared.args = None
        if record.exc_info or record.exc_text:
            prepared.__dict__[ATTR_EXCEPTION] = exception_fields(record.exc_info, record.exc_text)
            prepared.exc_text = prepared.__dict__[ATTR_EXCEPTION]["traceback"]
            prepared.exc_info = None
        prepared.message = prepared.msg
        return prepared


_new_object = object.__new__
_PLAIN_RECORDS = frozenset((logging.LogRecord, _Record))
