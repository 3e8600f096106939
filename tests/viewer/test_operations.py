"""Operation summaries for ``list``: entry point, duration, status, counts, per correlation id."""

from __future__ import annotations

from agent_tracing.viewer.operations import summarize
from agent_tracing.viewer.reader import ReadStats, read_lines
from tests.viewer.conftest import LoggedOperation


def test_summary_of_a_real_run(committed_operation: LoggedOperation) -> None:
    """The root HTTP span is the entry and gives the duration; the failed tool makes it error."""
    (summary,) = summarize(read_lines(committed_operation.files, ReadStats()))
    assert {
        "correlation_id": committed_operation.correlation_id,
        "status": "error",
        "user_id": "user_123",
        "entry": "POST /strategies/456/backtests",
        "entry_kind": "http.request",
        "lines": 34,
        "errors": 1,
        "warnings": 2,
    } == {k: v for k, v in summary.as_dict().items() if k not in ("start", "end", "duration_ms")}
    assert summary.entry_duration_ms == summary.duration_ms


def test_worker_file_alone_names_the_task(committed_operation: LoggedOperation) -> None:
    """Given only the worker's file, the task (whose parent is elsewhere) is the entry point."""
    (summary,) = summarize(read_lines(committed_operation.files[1:], ReadStats()))
    assert (
        summary.entry,
        summary.entry_kind,
        summary.status,
    ) == ("app.tasks.run_backtest", "task", "ok")


def test_lines_without_correlation_id_are_no_operation() -> None:
    """Startup lines with no correlation id are not listed as an operation."""
    lines = [
        {"timestamp": "2025-01-01T00:00:00.000Z", "level": "INFO", "correlation_id": None},
        {"timestamp": "2025-01-01T00:00:01.000Z", "level": "ERROR", "correlation_id": "x"},
    ]
    assert [(s.correlation_id, s.status, s.lines) for s in summarize(lines)] == [("x", "error", 1)]
