"""Queue mode's bounded queue and its listener thread.

The caller's side costs one slot taken (an atomic ``deque.pop``) and one ``SimpleQueue.put``; no
lock is taken while there is room. When the queue is full the caller waits for room up to
``timeout`` seconds, then the record is dropped and counted, and the listener writes one
``logging.dropped`` WARNING line saying how many were lost since its last such line. A slot is
given back only once its record was handed to the handlers, so at most ``size`` records are
held, whether queued or being written.

The listener takes every record waiting at each wake-up (up to :data:`BATCH`), and updates its
counters and gives the slots back once per batch. Draining (a flush, ``SIGTERM``, the exit)
waits while the listener makes progress and gives up after a stall, so a stuck sink never keeps
the process alive.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from agent_tracing.handlers import ContextQueueHandler
from agent_tracing.logger import SITE_FREE
from agent_tracing.records import ATTR_CONTEXT, ATTR_DATA, ATTR_EVENT, ATTR_FIELDS

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_QUEUE_TIMEOUT",
    "DROPPED_EVENT",
    "BoundedQueue",
    "QueueStats",
]

#: Records held at most (queued or being written) by default: about 7 MB at 0.7 KB a record.
DEFAULT_QUEUE_SIZE = 10_000
#: Seconds a caller waits for room in a full queue before its record is dropped, by default.
DEFAULT_QUEUE_TIMEOUT = 1.0
#: The event of the WARNING line that says records were dropped.
DROPPED_EVENT = "logging.dropped"
#: Records the listener takes at one wake-up at most.
BATCH = 512

_monotonic = time.monotonic


@dataclass(frozen=True)
class QueueStats:
    """Queue mode's counters, since :func:`agent_tracing.configure_logging` (or a fork) built
    the queue. ``accepted == written + depth`` at any moment; a dropped record was never
    accepted."""

    #: The bound: records held at most, queued or being written.
    size: int
    #: Records put on the queue.
    accepted: int
    #: Records the listener has handed to the handlers (a handler's own failure to write is
    #: counted in its ``write_failures``).
    written: int
    #: Records dropped because the queue stayed full for the whole timeout.
    dropped: int
    #: Records accepted and not yet written.
    depth: int
    #: The largest depth seen.
    high_water: int


class BoundedQueue:
    """A queue of at most ``size`` records for :class:`~agent_tracing.ContextQueueHandler`.

    ``put_nowait`` (what the handler calls) takes a free slot, or waits up to ``timeout``
    seconds for one (never in the listener's own thread), else drops the record and counts it.
    """

    def __init__(self, size: int = DEFAULT_QUEUE_SIZE, timeout: float = DEFAULT_QUEUE_TIMEOUT):
        if size < 1:
            raise ValueError(f"queue size must be >= 1, not {size!r}")
        self.size = size
        self.timeout = timeout
        self.records: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # One token per free slot: taking one is a single atomic pop, no lock on the hot path.
        self._free: deque[None] = deque(repeat(None, size))
        self._take = self._free.pop
        self._put = self.records.put
        #: Guards the counters below; callers waiting for room and drains wait on it.
        self.changed = threading.Condition(threading.RLock())
        self.written = 0
        self.dropped = 0
        #: Dropped since the last ``logging.dropped`` line.
        self.unreported = 0
        self.high_water = 0
        #: Records handed to the handlers so far, counted one by one (``written`` is updated per
        #: batch): what a drain watches to tell a listener still writing from a stuck one.
        self.handled = 0
        self._waiting = 0
        self._drains = 0
        #: The listener thread's id: it never waits for room (it is the one that makes room).
        self.consumer: int | None = None

    def put_nowait(self, record: Any) -> None:
        try:
            self._take()
        except IndexError:
            if not self._wait_for_room():
                return
        self._put(record)

    put = put_nowait

    def _wait_for_room(self) -> bool:
        """Take a slot freed within the timeout; count the record dropped if none is."""
        timeout = self.timeout if threading.get_ident() != self.consumer else 0.0
        deadline = _monotonic() + timeout
        with self.changed:
            self._waiting += 1
            try:
                while True:
                    try:
                        self._take()
                        return True
                    except IndexError:
                        pass
                    self.high_water = self.size
                    remaining = deadline - _monotonic()
                    if remaining <= 0:
                        self.dropped += 1
                        self.unreported += 1
                        return False
                    self.changed.wait(remaining)
            finally:
                self._waiting -= 1

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """The next queued record (its slot is given back by :meth:`done`)."""
        return self.records.get(block, timeout)

    def put_unbounded(self, item: Any) -> None:
        """Queue ``item`` without a slot (the listener's stop sentinel)."""
        self._put(item)

    def done(self, count: int) -> int:
        """The listener handed ``count`` records to the handlers: give their slots back.
        Returns the drops not reported yet, now reported."""
        free = self._free
        with self.changed:
            # The depth only falls here: its peaks are the values just before.
            depth = self.size - len(free)
            self.high_water = max(self.high_water, depth)
            self.written += count
            free.extend(repeat(None, count))
            unreported, self.unreported = self.unreported, 0
            if self._waiting or self._drains:
                self.changed.notify_all()
        return unreported

    def depth(self) -> int:
        return self.size - len(self._free)

    def stats(self) -> QueueStats:
        with self.changed:
            depth = self.size - len(self._free)
            return QueueStats(
                size=self.size,
                accepted=self.written + depth,
                written=self.written,
                dropped=self.dropped,
                depth=depth,
                high_water=max(self.high_water, depth),
            )

    def wait_written(self, stall: float, until: float | None = None) -> bool:
        """Wait until every record accepted so far is written. Gives up (False) when the
        listener has written nothing for ``stall`` seconds, or at ``until`` (a monotonic time)."""
        with self.changed:
            target = self.written + self.size - len(self._free)
            seen, since = self.handled, _monotonic()
            self._drains += 1
            try:
                while self.written < target:
                    now = _monotonic()
                    if self.handled != seen:
                        seen, since = self.handled, now
                    wait = since + stall - now
                    if until is not None:
                        wait = min(wait, until - now)
                    if wait <= 0:
                        return False
                    self.changed.wait(min(wait, 0.2))
                return True
            finally:
                self._drains -= 1


def dropped_record(count: int, queue: BoundedQueue) -> logging.LogRecord:
    """The WARNING line saying ``count`` records were dropped."""
    record = logging.LogRecord(
        "agent_tracing.queue",
        logging.WARNING,
        __file__,
        0,
        "%d log records dropped: the logging queue stayed full for %ss",
        (count, queue.timeout),
        None,
    )
    attrs = record.__dict__
    attrs[ATTR_CONTEXT] = {}
    attrs[ATTR_FIELDS] = None
    attrs[ATTR_DATA] = {"dropped": count, "queue_size": queue.size}
    attrs[ATTR_EVENT] = DROPPED_EVENT
    return record


class Listener(logging.handlers.QueueListener):
    """The thread that writes queued records: a ``QueueListener`` on a :class:`BoundedQueue`
    that takes records in batches, counts them (``handled``, for a drain to see progress) and
    writes the ``logging.dropped`` line. ``stop`` waits only while the listener makes progress."""

    queue: BoundedQueue
    #: Seconds ``stop`` waits for a listener that writes nothing.
    stall = 10.0

    def handle(self, record: logging.LogRecord) -> None:
        """Hand ``record`` to each handler at or below its level (``QueueListener.handle``
        with ``respect_handler_level``, without its ``prepare`` call)."""
        level = record.levelno
        for handler in self.handlers:
            if level >= handler.level:
                handler.handle(record)

    def enqueue_sentinel(self) -> None:
        self.queue.put_unbounded(self._sentinel)  # type: ignore[attr-defined]

    def _monitor(self) -> None:
        q = self.queue
        q.consumer = threading.get_ident()
        records = q.records
        get, get_nowait = records.get, records.get_nowait
        sentinel = self._sentinel  # type: ignore[attr-defined]
        empty = queue.Empty
        handled = q.handled
        while True:
            batch = [get()]
            try:
                while len(batch) < BATCH:
                    batch.append(get_nowait())
            except empty:
                pass
            # Read once a batch: the handlers may be replaced meanwhile (the next batch sees it).
            targets = [(handler.level, handler.handle) for handler in self.handlers]
            count = 0
            stop = False
            for record in batch:
                if record is sentinel:
                    stop = True
                    continue
                level = record.levelno
                for threshold, handle in targets:
                    if level >= threshold:
                        try:
                            handle(record)
                        except Exception:  # pragma: no cover - handle() reports, never raises
                            pass
                count += 1
                handled += 1
                q.handled = handled
            unreported = q.done(count)
            if unreported:
                try:
                    self.handle(dropped_record(unreported, q))
                except Exception:  # pragma: no cover
                    pass
            if stop:
                return

    def stop(self, stall: float | None = None, until: float | None = None) -> bool:  # type: ignore[override]
        """Write what was accepted and end the thread; gives up (False, the thread left
        running) when it writes nothing for ``stall`` seconds, or at ``until``."""
        thread = self._thread
        if thread is None:
            return True
        stall = self.stall if stall is None else stall
        self.enqueue_sentinel()
        q = self.queue
        seen, since = q.handled, _monotonic()
        while True:
            thread.join(0.05)
            if not thread.is_alive():
                self._thread = None
                return True
            now = _monotonic()
            if q.handled != seen:
                seen, since = q.handled, now
            elif now - since >= stall or (until is not None and now >= until):
                return False


class SiteFreeQueueHandler(ContextQueueHandler):
    """A :class:`~agent_tracing.ContextQueueHandler` in front of handlers that never show the
    caller's file and line (the JSON view): the caller skips looking its site up."""


SITE_FREE.add(SiteFreeQueueHandler)
