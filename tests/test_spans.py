"""Spans: ids, parents, start/end events, durations, errors, decorators."""

from __future__ import annotations

import asyncio

import pytest
from syrupy.assertion import SnapshotAssertion

import agent_tracing as at
from agent_tracing.testing import CapturedEvents


def test_nested_spans_form_a_tree(log_events: CapturedEvents) -> None:
    """A span inside a span takes it as parent; lines inside carry the innermost span."""
    log = at.get_logger("app.x")
    with at.span("request", kind="http.request") as outer:
        with at.span("service", kind="service") as inner:
            log.info("inside")
        log.info("after inner")
    assert inner.parent_span_id == outer.span_id
    by_message = {line["message"]: line for line in log_events.raw}
    assert by_message["inside"]["span_id"] == inner.span_id
    assert by_message["inside"]["parent_span_id"] == outer.span_id
    assert by_message["after inner"]["span_id"] == outer.span_id
    assert [line["event"] for line in log_events.raw] == [
        "http.request.start", "service.start", None, "service.end", None, "http.request.end",
    ]  # fmt: skip
    assert at.current_context() == {}


def test_end_event_has_duration_and_status(log_events: CapturedEvents) -> None:
    """The end event carries duration_ms and status ok, plus data set during the span."""
    with at.span("work", kind="job", data={"size": 3}) as s:
        s.set(result="done")
    start, end = log_events.raw
    assert start["data"] == {"span": "work", "size": 3}
    assert end["data"]["status"] == "ok"
    assert end["data"]["result"] == "done"
    assert end["data"]["duration_ms"] >= 0


def test_a_failed_span_ends_at_error_with_the_exception(
    log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """An exception ends the span at ERROR with status error and the traceback; it propagates."""
    with pytest.raises(RuntimeError), at.span("work", kind="job", user_id="u1"):
        raise RuntimeError("boom")
    end = log_events.raw[-1]
    assert end["level"] == "ERROR"
    assert end["data"]["status"] == "error"
    assert end["exception"]["type"] == "RuntimeError"
    assert log_events.events == snapshot


def test_span_fields_bind_context_and_extra_goes_to_start_data(log_events: CapturedEvents) -> None:
    """Context fields given to span() are bound inside; other keys are start-event data."""
    with at.span("bt", kind="backtest", backtest_id=7, timerange="20240101-"):
        at.get_logger("app.x").info("inside")
    start, inside, _ = log_events.raw
    assert start["data"] == {"span": "bt", "timerange": "20240101-"}
    assert inside["backtest_id"] == 7
    assert inside["data"] is None


def test_decorator_sync_and_async(log_events: CapturedEvents) -> None:
    """span() decorates functions and coroutines, one span per call."""

    @at.span("sync work", kind="job")
    def work() -> str | None:
        return at.get_context_value("span_id")

    @at.span("async work", kind="job")
    async def awork() -> str | None:
        await asyncio.sleep(0)
        return at.get_context_value("span_id")

    first, second = work(), work()
    third = asyncio.run(awork())
    assert len({first, second, third}) == 3
    assert [line["event"] for line in log_events.raw].count("job.end") == 3


def test_explicit_start_finish_with_remote_parent(log_events: CapturedEvents) -> None:
    """start()/finish() with a parent id from elsewhere, and an overridden end level."""
    s = at.Span("task", kind="task", parent_span_id="abcdef0123456789", logger="app.tasks")
    s.start()
    assert at.get_context_value("parent_span_id") == "abcdef0123456789"
    s.finish(status="retry", level=30, message="task will retry")
    assert at.get_context_value("span_id") is None
    end = log_events.raw[-1]
    assert (end["level"], end["data"]["status"], end["message"]) == (
        "WARNING",
        "retry",
        "task will retry",
    )
    assert end["logger"] == "app.tasks"


def test_span_ids_differ_after_fork() -> None:
    """A forked child draws span ids of its own."""
    import os

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, at.new_span_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    assert child != at.new_span_id()


def test_finish_puts_context_fields_on_the_end_line_only(log_events: CapturedEvents) -> None:
    """finish(fields=...) sets context fields on the end line only; other keys are ignored."""
    s = at.Span("request", kind="http.request").start()
    s.finish(fields={"user_id": "user_123", "strategy_id": None, "not_a_field": 1})
    start, end = log_events.raw
    assert start["user_id"] is None
    assert end["user_id"] == "user_123"
    assert end["strategy_id"] is None
    assert "not_a_field" not in (end["data"] or {})
    assert at.current_context() == {}
