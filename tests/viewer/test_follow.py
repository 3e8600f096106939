"""``--follow``: new lines of a growing file are printed as they come, across rotation."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

import agent_tracing as at
from agent_tracing.viewer.follow import FollowPrinter, Tail
from agent_tracing.viewer.reader import ReadStats
from agent_tracing.viewer.terminal import Style
from tests.conftest import ROOT


def _raw(message: str, **fields: object) -> bytes:
    line = {"timestamp": "2025-01-01T00:00:00.000Z", "level": "INFO", "message": message}
    return orjson.dumps({**line, **fields})


def test_tail_waits_for_complete_lines_and_survives_rotation(tmp_path: Path) -> None:
    """A half-written line waits for its newline; a rotated file is finished, then the new one."""
    path = tmp_path / "app.jsonl"
    path.write_bytes(_raw("one") + b"\n" + _raw("two")[:20])
    stats = ReadStats()
    tail = Tail([str(path)], stats)
    try:
        assert [line["message"] for line in tail.poll()] == ["one"]
        with path.open("ab") as handle:
            handle.write(_raw("two")[20:] + b"\nnot json\n")
        assert [line["message"] for line in tail.poll()] == ["two"]
        with path.open("ab") as handle:
            handle.write(_raw("three") + b"\n")
        path.rename(tmp_path / "app.jsonl.1")
        path.write_bytes(_raw("four") + b"\n")
        assert [line["message"] for line in tail.poll()] == ["three", "four"]
        assert tail.poll() == []
        path.write_bytes(b"")  # truncated in place (copytruncate), then a shorter line
        with path.open("ab") as handle:
            handle.write(_raw("5") + b"\n")
        assert [line["message"] for line in tail.poll()] == ["5"]
    finally:
        tail.close()
    assert stats.malformed == 1


def test_printer_indents_under_known_spans() -> None:
    """Lines are indented under their span; a span's end shows its status and duration."""
    printer = FollowPrinter(Style())
    start = _raw("s", event="task.start", data={"span": "t"}, span_id="a", parent_span_id=None)
    inner = _raw("inside", span_id="b", parent_span_id="a")
    end = _raw(
        "e",
        level="ERROR",
        event="task.end",
        data={"span": "t", "duration_ms": 5.0, "status": "error"},
        span_id="a",
    )
    texts = [printer.render(orjson.loads(raw)) for raw in (start, inner, end)]
    assert texts == [
        "00:00:00.000 ▶ task t",
        "      00:00:00.000 · inside",
        "00:00:00.000 ✗ task t  5.0 ms  error",
    ]


def test_follow_prints_lines_a_live_process_appends(tmp_path: Path) -> None:
    """``view --follow`` shows the tree so far, then each span and line a writer adds later."""
    path = tmp_path / "app.jsonl"
    at.configure_logging(json_output=str(path), console=False)
    log = at.get_logger("app.follow")
    cid = at.new_correlation_id()
    viewer = subprocess.Popen(
        [
            *(sys.executable, "-m", "agent_tracing.cli", "view", str(path), "--follow"),
            *("--interval", "0.05", "-c", cid, "--color", "never"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        with at.bind(correlation_id=cid), at.span("app.tasks.follow_me", kind="task"):
            log.info("first step")
            at.flush_logging()
            assert "-- following" in _read_until(viewer, "-- following")
            with at.span("gpt-4o", kind="agent.llm"):
                log.warning("slow answer")
        with at.bind(correlation_id="someone-else"):
            log.info("not this operation")
        at.flush_logging()
        seen = _read_until(viewer, "✓ task app.tasks.follow_me")
    finally:
        viewer.terminate()
        viewer.wait(timeout=10)
        for stream in (viewer.stdout, viewer.stderr):
            if stream is not None:
                stream.close()
    assert "task app.tasks.follow_me" in seen
    assert any(x.startswith("   ") and x.endswith("▶ LLM gpt-4o") for x in seen.splitlines())
    assert "⚠ slow answer" in seen
    assert "not this operation" not in seen


def _read_until(process: subprocess.Popen[str], text: str, timeout: float = 30.0) -> str:
    """Read the process's output lines until one contains ``text``."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen.append(line)
            if text in line:
                return "".join(seen)
        else:
            time.sleep(0.02)
    raise AssertionError(f"{text!r} never printed; got {''.join(seen)!r}")


def test_tail_waits_for_a_file_that_does_not_exist_yet(tmp_path: Path) -> None:
    """Following a path before its writer created it picks the file up once it appears."""
    path = tmp_path / "later.jsonl"
    tail = Tail([str(path)], ReadStats())
    try:
        assert tail.poll() == []
        path.write_bytes(_raw("hello") + b"\n")
        assert [line["message"] for line in tail.poll()] == ["hello"]
    finally:
        tail.close()
