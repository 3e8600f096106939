"""The ``agent-tracing`` command: list, view, html, filters, stdin, errors and exit statuses."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import orjson
import pytest

from agent_tracing.cli import main
from tests.conftest import ROOT
from tests.viewer.conftest import LoggedOperation, run_scenario


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> LoggedOperation:
    """An operation logged just now by the core in two processes (API and worker)."""
    return run_scenario(tmp_path_factory.mktemp("cli-operation"))


def run(*argv: str) -> tuple[int, str]:
    """Run the command in this process; return its exit status and output."""
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def _other_operation(path: Path, correlation_id: str, start: str, user: str = "user_9") -> None:
    lines = [
        {
            "timestamp": start,
            "level": "INFO",
            "correlation_id": correlation_id,
            "user_id": user,
            "message": "GET /health started",
            "data": {"span": "GET /health"},
            "event": "http.request.start",
            "span_id": "s1",
            "parent_span_id": None,
        },
        {
            "timestamp": start,
            "level": "INFO",
            "correlation_id": correlation_id,
            "user_id": user,
            "message": "GET /health finished",
            "data": {"span": "GET /health", "duration_ms": 3.0, "status": "ok"},
            "event": "http.request.end",
            "span_id": "s1",
            "parent_span_id": None,
        },
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))


def test_console_script_is_declared() -> None:
    """``agent-tracing`` is a console script pointing at ``agent_tracing.cli:main``."""
    (script,) = entry_points(group="console_scripts", name="agent-tracing")
    assert script.value == "agent_tracing.cli:main"
    assert main is script.load()


def test_list_shows_each_operation(logged: LoggedOperation, tmp_path: Path) -> None:
    """One row per operation, newest first: id, start, duration, status, user, entry, counts."""
    other = tmp_path / "other.jsonl"
    _other_operation(other, "later-op", "2999-01-01T00:00:00.000Z")
    status, out = run("list", *logged.files, str(other))
    header, newest, operation = out.splitlines()
    assert status == 0
    assert header.split() == [
        "CORRELATION",
        "ID",
        "START",
        "DURATION",
        "STATUS",
        "USER",
        "ENTRY",
        "LINES",
        "ERRORS",
    ]
    assert newest.split()[:4] == ["later-op", "2999-01-01T00:00:00.000Z", "3.0", "ms"]
    fields = operation.split()
    assert fields[0] == logged.correlation_id
    assert fields[4:] == [
        "error",
        "user_123",
        "HTTP",
        "POST",
        "/strategies/456/backtests",
        "34",
        "1",
    ]


def test_list_json_and_filters(logged: LoggedOperation, tmp_path: Path) -> None:
    """``--json`` gives one object per operation; ``--user-id`` keeps that user's operations."""
    other = tmp_path / "other.jsonl"
    _other_operation(other, "later-op", "2999-01-01T00:00:00.000Z")
    status, out = run("list", "--json", "--user-id", "user_123", *logged.files, str(other))
    (row,) = [orjson.loads(line) for line in out.splitlines()]
    assert status == 0
    assert {
        "correlation_id": logged.correlation_id,
        "status": "error",
        "user_id": "user_123",
        "entry": "POST /strategies/456/backtests",
        "entry_kind": "http.request",
        "lines": 34,
        "errors": 1,
        "warnings": 2,
    } == {
        k: row[k]
        for k in (
            "correlation_id",
            "status",
            "user_id",
            "entry",
            "entry_kind",
            "lines",
            "errors",
            "warnings",
        )
    }
    assert 60 < row["duration_ms"] < 60_000  # the sleeps in the run, and bounded


def test_view_prints_the_tree_of_both_processes(logged: LoggedOperation) -> None:
    """The request, the agent's spans and the worker's task and Freqtrade command, in one tree."""
    status, out = run("view", *logged.files, "--correlation-id", logged.correlation_id[:8])
    assert status == 0
    for text in (
        "HTTP POST /strategies/456/backtests",
        "agent strategy_agent",
        "LLM gpt-4o-mini",
        "tokens prompt=412 completion=58 total=470",
        "agent.decision: Decided to fetch market data",
        "✗ tool risk_check",
        "✗ ValueError: max drawdown 0.42 above limit 0.25",
        "│  └─ ✓ freqtrade backtesting",
        "→ user_data/backtest_results/backtest-result-2024-01-28.json",
        "SQL: 3 queries",
    ):
        assert text in out
    assert "   ├─ ✓ task app.tasks.run_backtest" in out


def test_view_defaults_to_the_latest_operation(logged: LoggedOperation, tmp_path: Path) -> None:
    """Without an id, ``view`` shows the operation that started last (filters narrow it)."""
    other = tmp_path / "other.jsonl"
    _other_operation(other, "later-op", "2999-01-01T00:00:00.000Z")
    _, latest = run("view", *logged.files, str(other))
    _, mine = run("view", *logged.files, str(other), "--user-id", "user_123")
    assert "operation later-op" in latest
    assert f"operation {logged.correlation_id}" in mine


def test_view_filters_by_level_and_time(logged: LoggedOperation) -> None:
    """``--level WARNING`` keeps warnings and the spans; ``--until`` before the task drops it."""
    _, warnings = run("view", *logged.files, "--level", "warning")
    assert "Data download retry" in warnings
    assert "Task received" not in warnings
    assert "✓ task app.tasks.run_backtest" in warnings
    _, early = run("view", *logged.files, "--until", "2000-01-01")
    assert early == ""
    _, none = run("view", *logged.files, "--since", "1h", "--until", "1h")
    assert none == ""


def test_view_reads_stdin_and_counts_malformed_lines(
    logged: LoggedOperation,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Piped input with junk lines still gives the tree; the junk is counted on stderr."""
    data = b"garbage\n" + b"".join(Path(f).read_bytes() for f in logged.files) + b"{\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status, out = run("view")
    assert status == 0
    assert "freqtrade backtesting" in out
    assert "skipped 2 malformed of 36 lines" in capsys.readouterr().err


def test_gzip_rotated_input(logged: LoggedOperation, tmp_path: Path) -> None:
    """A gzipped rotated file is found next to the live one and read."""
    api = tmp_path / "api.jsonl"
    api.write_bytes(b"")
    with gzip.open(tmp_path / "api.jsonl.1.gz", "wb") as packed:
        packed.write(Path(logged.files[0]).read_bytes())
    status, out = run("view", str(api), logged.files[1])
    assert status == 0
    assert "HTTP POST /strategies/456/backtests" in out


def test_errors_and_exit_statuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown id or no input: status 1 with a reason; an ambiguous prefix or bad time: 2."""
    _other_operation(tmp_path / "a.jsonl", "abc-1", "2025-01-01T00:00:00.000Z")
    _other_operation(tmp_path / "b.jsonl", "abc-2", "2025-01-01T00:00:01.000Z")
    files = [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    assert run("view", *files, "-c", "zzz") == (1, "")
    assert "no lines of operation 'zzz' match" in capsys.readouterr().err
    assert run("view", *files, "-c", "abc")[0] == 2
    assert "matches 2 operations: abc-1, abc-2" in capsys.readouterr().err
    assert run("view", *files, "--since", "yesterday")[0] == 2
    assert run("list", str(tmp_path / "missing.jsonl"))[0] == 1
    assert "cannot read" in capsys.readouterr().err


def test_html_writes_a_page(logged: LoggedOperation, tmp_path: Path) -> None:
    """``html -o`` writes one self-contained page with every span."""
    target = tmp_path / "trace.html"
    status, _ = run("html", *logged.files, "-c", logged.correlation_id, "-o", str(target))
    page = target.read_text()
    assert status == 0
    assert page.startswith("<!DOCTYPE html>")
    assert logged.correlation_id in page
    assert "backtest-result-2024-01-28.json" in page


def test_installed_command_runs_as_a_process(logged: LoggedOperation) -> None:
    """``python -m agent_tracing.cli`` (what the console script runs) works end to end."""
    done = subprocess.run(
        [sys.executable, "-m", "agent_tracing.cli", "list", *logged.files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert logged.correlation_id in done.stdout


def test_follow_needs_files(capsys: pytest.CaptureFixture[str]) -> None:
    """``--follow`` on stdin is a usage error, not a hang."""
    assert run("view", "-", "--follow")[0] == 2
    assert "--follow reads files, not stdin" in capsys.readouterr().err


def test_readme_tree_capture_is_current() -> None:
    """``docs/images/viewer-tree.txt`` is what ``view`` prints for the committed ``make demo`` log
    (``fixtures/demo.jsonl``) and the operation the capture shows."""
    capture = (ROOT / "docs" / "images" / "viewer-tree.txt").read_text(encoding="utf-8")
    operation = capture.split()[1]
    demo = ROOT / "tests" / "viewer" / "fixtures" / "demo.jsonl"
    _, out = run("view", str(demo), "--correlation-id", operation, "--color", "never")
    assert capture == out
