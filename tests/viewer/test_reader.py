"""Reading input: files, globs, rotated and gzip files, stdin, malformed lines, merging."""

from __future__ import annotations

import gzip
import io
import shutil
import sys
from pathlib import Path

import orjson
import pytest

import agent_tracing as at
from agent_tracing.viewer.reader import (
    ReadStats,
    expand_inputs,
    iter_lines,
    needle_for,
    read_lines,
)
from tests.viewer.conftest import LoggedOperation


def _line(timestamp: str, message: str, **fields: object) -> bytes:
    return orjson.dumps({"timestamp": timestamp, "level": "INFO", "message": message, **fields})


def test_malformed_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    """Broken JSON, non-objects, lines without a timestamp and bad UTF-8 are counted, not fatal."""
    path = tmp_path / "app.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                _line("2025-01-01T00:00:00.000Z", "first"),
                b'{"timestamp": "2025-01-01T00:00:01.000Z", "level": ',
                b"plain text from a library",
                b"[1, 2, 3]",
                b'{"level": "INFO"}',
                b"\xff\xfe{}",
                b"",
                _line("2025-01-01T00:00:02.000Z", "second"),
            ]
        )
    )
    stats = ReadStats()
    lines = list(iter_lines(str(path), stats))
    assert [line["message"] for line in lines] == ["first", "second"]
    assert (stats.lines, stats.malformed) == (7, 5)
    assert f"{path}:2: not JSON (unexpected end of data)" == stats.examples[0]


def test_lines_from_several_files_are_merged_by_timestamp(tmp_path: Path) -> None:
    """Two processes' files come out as one stream in time order."""
    (tmp_path / "a.jsonl").write_bytes(
        _line("2025-01-01T00:00:00.000Z", "a1") + b"\n" + _line("2025-01-01T00:00:03.000Z", "a2")
    )
    (tmp_path / "b.jsonl").write_bytes(
        _line("2025-01-01T00:00:01.000Z", "b1") + b"\n" + _line("2025-01-01T00:00:02.000Z", "b2")
    )
    stats = ReadStats()
    sources = expand_inputs([str(tmp_path / "*.jsonl")], stats=stats)
    merged = [line["message"] for line in read_lines(sources, stats)]
    assert merged == ["a1", "b1", "b2", "a2"]


def test_rotated_and_gzip_files_are_read_with_the_live_file(tmp_path: Path) -> None:
    """Real size rotation (``.1``, ``.2``) plus a gzipped old file are all read, oldest first."""
    path = tmp_path / "app.jsonl"
    at.configure_logging(
        json_output=str(path), rotate="size", max_bytes=600, backup_count=5, console=False
    )
    log = at.get_logger("app.rotation")
    for number in range(12):
        log.info("line %d", number, data={"number": number})
    at.shutdown_logging()
    assert (tmp_path / "app.jsonl.1").exists()
    oldest = max(tmp_path.glob("app.jsonl.[0-9]*"), key=lambda p: int(p.suffix[1:]))
    with oldest.open("rb") as raw, gzip.open(f"{oldest}.gz", "wb") as packed:
        shutil.copyfileobj(raw, packed)
    oldest.unlink()
    (tmp_path / "other.jsonl.1").write_bytes(_line("2025-01-01T00:00:00.000Z", "not ours"))
    stats = ReadStats()
    sources = expand_inputs([str(path)], stats=stats)
    assert sources[-1] == str(path)
    assert any(source.endswith(".gz") for source in sources)
    numbers = [line["data"]["number"] for line in read_lines(sources, stats)]
    assert list(range(12)) == numbers
    assert stats.malformed == 0
    assert [str(path)] == expand_inputs([str(path)], rotated=False)


def test_missing_inputs_are_recorded(tmp_path: Path) -> None:
    """A missing file or a glob matching nothing is reported, not an exception."""
    stats = ReadStats()
    assert expand_inputs([str(tmp_path / "nope.jsonl"), str(tmp_path / "*.log")], stats=stats) == []
    assert [str(tmp_path / "nope.jsonl"), str(tmp_path / "*.log")] == stats.missing


def test_stdin_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """``-`` (and no input at all) reads standard input."""
    data = _line("2025-01-01T00:00:00.000Z", "from a pipe") + b"\nnot json\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    stats = ReadStats()
    assert expand_inputs([]) == ["-"]
    assert [line["message"] for line in read_lines(["-"], stats)] == ["from a pipe"]
    assert stats.malformed == 1


def test_live_operation_files_merge_in_time_order(live_operation: LoggedOperation) -> None:
    """The API's and the worker's real files interleave: the task's lines sit inside the request."""
    stats = ReadStats()
    lines = list(read_lines(live_operation.files, stats))
    timestamps = [line["timestamp"] for line in lines]
    assert sorted(timestamps) == timestamps
    loggers = [line["logger"] for line in lines]
    first_task = loggers.index("app.tasks.backtests")
    assert "app.api.routers.backtests" in loggers[first_task:]
    assert stats.malformed == 0


def test_needle_skips_parsing_other_operations(tmp_path: Path) -> None:
    """With an id, other operations' lines are not parsed; non-object lines still count."""
    path = tmp_path / "app.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                _line("2025-01-01T00:00:00.000Z", "mine", correlation_id="abc-1"),
                _line("2025-01-01T00:00:01.000Z", "other", correlation_id="zzz-9"),
                b'{"other operation, broken but object-shaped"}',
                b"plain text",
                _line("2025-01-01T00:00:02.000Z", "mentions abc-1", correlation_id="zzz-9"),
            ]
        )
    )
    stats = ReadStats()
    lines = list(iter_lines(str(path), stats, needle_for("abc-1")))
    assert [line["message"] for line in lines] == ["mine", "mentions abc-1"]
    assert (stats.lines, stats.malformed) == (5, 1)
    assert needle_for('ab"c') is None
