"""Handlers: queue mode's snapshot of the caller's values, torn lines on a full disk, and a file
moved or deleted by an outside rotator."""

from __future__ import annotations

import dataclasses
import errno
import io
import logging
import os
import queue
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

import agent_tracing as at
from agent_tracing.handlers import (
    ContextQueueHandler,
    JsonFileHandler,
    RotatingJsonFileHandler,
    TimedRotatingJsonFileHandler,
)


@pytest.fixture
def queued() -> tuple[at.BoundLogger, queue.SimpleQueue[logging.LogRecord]]:
    """A logger whose only handler is a ``ContextQueueHandler`` on a queue the test reads."""
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    private = logging.Logger("queued", logging.DEBUG)
    private.addHandler(ContextQueueHandler(q))
    private.propagate = False
    return at.BoundLogger(private), q


def _line(record: logging.LogRecord) -> dict[str, Any]:
    line = orjson.loads(at.JsonFormatter().format_bytes(record))
    assert isinstance(line, dict)
    return line


@dataclasses.dataclass
class Order:
    """A mutable object passed as a value of ``data``."""

    pair: str
    fills: list[int]


def test_queue_mode_writes_data_as_it_was_at_the_call(
    queued: tuple[at.BoundLogger, queue.SimpleQueue[logging.LogRecord]],
) -> None:
    """Mutating ``data``, a nested list, an object in it or a bound list after the call does
    not change the queued line."""
    log, q = queued
    tags = ["a"]
    nested = {"items": [1, 2], "order": Order("BTC/USDT", [1])}
    data: dict[str, Any] = {"n": 1, "nested": nested}
    with at.bind(tags=tags):
        log.info("snap", data=data)
    data["n"] = 2
    data["added"] = True
    nested["items"].append(3)  # type: ignore[attr-defined]
    nested["order"].fills.append(2)  # type: ignore[attr-defined]
    tags.append("b")
    line = _line(q.get_nowait())
    expected = {
        "tags": ["a"],
        "n": 1,
        "nested": {"items": [1, 2], "order": {"pair": "BTC/USDT", "fills": [1]}},
    }
    assert line["data"] == expected


def test_queue_mode_snapshot_of_scalars_is_a_copy(
    queued: tuple[at.BoundLogger, queue.SimpleQueue[logging.LogRecord]],
) -> None:
    """A dict of plain values is copied (the cheap path): changing a key after the call is
    not seen."""
    log, q = queued
    data = {"i": 1, "s": "x", "f": 1.5, "b": True, "none": None}
    log.info("plain", data=data)
    data["i"] = 99
    assert _line(q.get_nowait())["data"] == {"i": 1, "s": "x", "f": 1.5, "b": True, "none": None}


class _Cycle(dict[str, Any]):
    """A dict subclass (not the fast path)."""


def _hostile_values() -> list[Any]:
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    deep: list[Any] = []
    cursor = deep
    for _ in range(50):
        cursor.append([])
        cursor = cursor[0]
    many = {f"k{i}": [i] for i in range(150)}
    return [
        {"long": "x" * 20_000, "list": list(range(500)), "set": {3, 1, 2}},
        {"cycle": cyclic, "deep": deep},
        many,
        {"password": "hunter2", "inner": {"api_key": ["s3cr3t"]}, "t": (1, [2])},
        _Cycle(a=[1], b={"c": 2}),
        ["not", "a", "mapping"],
        {"order": Order("ETH/USDT", list(range(30))), 5: "int key", "when": object()},
    ]


@pytest.mark.parametrize("data", _hostile_values())
def test_queue_mode_line_equals_the_direct_line(
    queued: tuple[at.BoundLogger, queue.SimpleQueue[logging.LogRecord]], data: Any
) -> None:
    """The snapshot changes nothing: the queued record formats to the same line as the caller's
    record (truncation marks, cycles, depth, redaction and all)."""
    # Objects other than containers are snapshot in their cleaned form: a truncation mark inside
    # one (a list of more than ``max_items`` in a dataclass) would be counted again when written.
    log, q = queued
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    log._logger.addHandler(Keep())  # type: ignore[attr-defined]
    with at.bind(extra_list=[1, {"x": 2}]):
        log.info("same", data=data)
    assert _line(q.get_nowait()) == _line(seen[0])


def test_a_data_mapping_whose_iteration_raises_is_queued_safely(
    queued: tuple[at.BoundLogger, queue.SimpleQueue[logging.LogRecord]],
) -> None:
    """A hostile mapping in ``data`` is logged (as unreadable), never raised into the caller."""
    log, q = queued

    class Broken(dict[str, Any]):
        def items(self) -> Any:
            raise RuntimeError("no items")

        def __iter__(self) -> Any:
            raise RuntimeError("no iteration")

    log.info("broken", data={"inner": Broken(a=1)})
    log.info("broken top", data=Broken(a=1))
    lines = [_line(q.get_nowait()), _line(q.get_nowait())]
    assert [line["message"] for line in lines] == ["broken", "broken top"]


class _TornStream:
    """A file stream on a disk that fills up: the first failing write writes part of the line
    and then raises ``ENOSPC``; later writes succeed again (space freed)."""

    def __init__(self, path: Path, fail: int = 1) -> None:
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115
        self.fail = fail

    def write(self, data: bytes) -> int:
        if self.fail:
            self.fail -= 1
            self.file.write(bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = self.file.write(data)
        assert written is not None
        return written

    def fileno(self) -> int:
        return self.file.fileno()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.file.close()


@pytest.mark.parametrize(
    "make",
    [
        lambda p: JsonFileHandler(str(p)),
        lambda p: RotatingJsonFileHandler(str(p), max_bytes=10_000_000),
        lambda p: TimedRotatingJsonFileHandler(str(p)),
    ],
)
def test_a_torn_line_on_a_full_disk_is_never_glued_to_the_next(
    tmp_path: Path, make: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a write that stopped mid-line with ENOSPC, the next record starts on its own line;
    the failure is counted and reported once."""
    out = tmp_path / "torn.jsonl"
    handler = make(out)
    handler.stream.close()
    handler.stream = _TornStream(out)
    log = logging.Logger("torn", logging.INFO)
    log.addHandler(handler)
    log.propagate = False
    for i in range(3):
        log.info("line %d", i)
    handler.close()
    rows = out.read_bytes().split(b"\n")
    assert rows[-1] == b""
    assert [orjson.loads(row)["message"] for row in rows[1:-1]] == ["line 1", "line 2"]
    assert not rows[0].endswith(b"}")  # the torn half of line 0, alone on its line
    assert handler.write_failures == 1
    assert capsys.readouterr().err.count("could not write a log record") == 1


def test_a_handler_on_dev_full_counts_and_never_writes_a_stray_newline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On /dev/full every write fails: each failure is counted, one report is printed."""
    handler = JsonFileHandler("/dev/full")
    log = logging.Logger("full", logging.INFO)
    log.addHandler(handler)
    log.propagate = False
    for i in range(5):
        log.info("line %d", i)
    handler.close()
    assert handler.write_failures == 5
    assert capsys.readouterr().err.count("could not write a log record") == 1


def _file_logger(handler: logging.Handler) -> logging.Logger:
    log = logging.Logger("watched", logging.INFO)
    log.addHandler(handler)
    log.propagate = False
    return log


@pytest.mark.parametrize(
    "make",
    [
        lambda p: JsonFileHandler(str(p)),
        lambda p: RotatingJsonFileHandler(str(p), max_bytes=10_000_000),
        lambda p: TimedRotatingJsonFileHandler(str(p)),
    ],
)
@pytest.mark.parametrize("outside", ["move", "delete"])
def test_a_file_moved_or_deleted_outside_is_reopened(
    tmp_path: Path, make: Any, outside: str
) -> None:
    """After logrotate (without copytruncate) moves or deletes the file, the next lines go to a
    new file at the same path."""
    out = tmp_path / "app.jsonl"
    handler = make(out)
    log = _file_logger(handler)
    log.info("before")
    if outside == "move":
        out.rename(tmp_path / "app.jsonl.1")
    else:
        out.unlink()
    time.sleep(handler.watch_interval * 2)
    log.info("after 1")
    log.info("after 2")
    handler.close()
    # A deleted file takes with it the lines written since the handler last looked at the path
    # ("before" here): those are written again to the new file, never lost.
    again = ["before"] if outside == "delete" else []
    assert [orjson.loads(row)["message"] for row in out.read_bytes().splitlines()] == [
        *again,
        "after 1",
        "after 2",
    ]
    if outside == "move":
        moved = (tmp_path / "app.jsonl.1").read_bytes().splitlines()
        assert [orjson.loads(row)["message"] for row in moved] == ["before"]


@pytest.mark.parametrize(
    "make",
    [
        lambda p: JsonFileHandler(str(p)),
        lambda p: RotatingJsonFileHandler(str(p), max_bytes=10_000_000),
        lambda p: TimedRotatingJsonFileHandler(str(p)),
    ],
)
def test_lines_written_to_a_deleted_file_before_it_was_noticed_are_written_again(
    tmp_path: Path, make: Any
) -> None:
    """Lines written after an outside delete but before the handler looked at the path are not
    lost: they are written to the new file, in order, ahead of the next line."""
    out = tmp_path / "app.jsonl"
    handler = make(out)
    handler.watch_interval = 3600.0  # the look happens only when the test asks for it
    log = _file_logger(handler)
    log.info("before")
    handler._next_watch = 0.0
    log.info("seen")  # the handler looks at the path (same file), then writes
    out.unlink()
    log.info("unseen 1")  # written to the deleted file
    log.info("unseen 2")
    handler._next_watch = 0.0
    log.info("after")
    handler.close()
    assert [orjson.loads(row)["message"] for row in out.read_bytes().splitlines()] == [
        "seen",  # written after the look, so in the window too
        "unseen 1",
        "unseen 2",
        "after",
    ]


def test_a_path_that_cannot_be_reopened_is_reported_once_then_recovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The directory goes away: the failure is counted and reported once; when it comes back,
    lines reach the file again."""
    folder = tmp_path / "logs"
    folder.mkdir()
    out = folder / "app.jsonl"
    handler = JsonFileHandler(str(out))
    log = _file_logger(handler)
    log.info("before")
    out.unlink()
    folder.rmdir()
    time.sleep(handler.watch_interval * 2)
    log.info("lost 1")
    log.info("lost 2")
    folder.mkdir()
    log.info("back")
    handler.close()
    # "before" was written to the deleted file after the last look at the path: written again.
    assert [orjson.loads(row)["message"] for row in out.read_bytes().splitlines()] == [
        "before",
        "back",
    ]
    assert handler.write_failures == 2
    assert capsys.readouterr().err.count("could not write a log record") == 1


def test_a_text_stream_handler_is_not_watched() -> None:
    """A stream handler has no path to watch: it writes as before."""
    buffer = io.StringIO()
    handler = at.JsonStreamHandler(buffer)
    _file_logger(handler).info("plain")
    assert orjson.loads(buffer.getvalue())["message"] == "plain"


def test_data_changed_by_another_thread_while_queued_never_raises(
    queued: tuple[at.BoundLogger, queue.SimpleQueue[logging.LogRecord]],
) -> None:
    """A dict another thread keeps resizing is snapshot safely: every call is queued, none
    raises into the caller."""
    import threading

    log, q = queued
    shared: dict[str, Any] = {"items": [1]}
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            shared[f"k{n % 50}"] = [n]
            shared.pop(f"k{(n + 25) % 50}", None)

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(2000):
            log.info("churn", data=shared)
    finally:
        stop.set()
        thread.join(timeout=10)
    lines = [_line(q.get_nowait()) for _ in range(2000)]
    assert {line["message"] for line in lines} == {"churn"}


def test_a_foreign_exception_call_outside_an_except_block_is_queued(
    queued: tuple[at.BoundLogger, queue.SimpleQueue[logging.LogRecord]],
) -> None:
    """A stdlib logger's ``.exception()`` with no exception being handled (``exc_info`` is
    ``(None, None, None)``) is queued and written, not dropped."""
    _, q = queued
    private = logging.Logger("foreign", logging.DEBUG)
    handler = ContextQueueHandler(q)
    private.addHandler(handler)
    private.exception("nothing is being handled")
    assert handler.write_failures == 0
    line = _line(q.get_nowait())
    assert (line["message"], line.get("exception")) == ("nothing is being handled", None)
