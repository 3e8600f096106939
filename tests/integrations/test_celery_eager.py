"""Eager mode (``task_always_eager``): the same lines and ids, and the caller keeps its context."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery, chain
from celery.exceptions import Ignore, Reject

import agent_tracing as at
from agent_tracing.celery import TaskLogOptions, instrument_celery, uninstrument_celery
from agent_tracing.testing import CapturedEvents
from tests.integrations.celery_support import instrumented, isolated_app, task_events


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Celery]:
    """An instrumented app that runs every task eagerly, in the caller's thread."""
    with instrumented():
        yield isolated_app(None, None, tmp_path, task_always_eager=True)


def test_eager_task_runs_under_the_callers_context_and_span(
    app: Celery, log_events: CapturedEvents
) -> None:
    """An eager task logs with the caller's ids, as a child span of the caller's span."""
    with (
        at.bind(correlation_id="cid-eager", user_id="user_e"),
        at.span("request", kind="http.request") as request,
    ):
        seen = app.tasks["examples.context"].delay("eager").get()
    assert (seen["correlation_id"], seen["user_id"]) == ("cid-eager", "user_e")
    assert request.span_id == seen["parent_span_id"]
    start = log_events.by_event("task.start")[0]
    assert (start["data"]["context"], start["correlation_id"]) == ("caller", "cid-eager")
    assert [
        line["event"] for line in log_events.raw if line["logger"] == "agent_tracing.celery"
    ] == ["task.start", "task.end"]


def test_caller_keeps_its_context_after_an_eager_call(app: Celery) -> None:
    """After an eager call (success, failure or retries) the caller's context is unchanged."""
    with at.bind(correlation_id="cid-keep", user_id="u1"), at.span("request"):
        before = at.current_context()
        app.tasks["examples.add"].delay(1, 2).get()
        assert before == at.current_context()
        app.tasks["examples.fail"].delay("x")  # the failure is stored, not raised
        assert before == at.current_context()
        assert app.tasks["examples.flaky"].delay(2).get() == 2
        assert before == at.current_context()
    assert at.current_context() == {}


def test_eager_task_without_context_gets_a_new_id_for_itself_only(
    app: Celery, log_events: CapturedEvents
) -> None:
    """Without a caller context the eager task runs under a new id, gone after the call."""
    seen = app.tasks["examples.context"].delay("bare").get()
    assert seen["correlation_id"] is not None
    assert log_events.by_event("task.start")[0]["data"]["context"] == "new"
    assert at.current_context() == {}


def test_eager_failure_and_retry_are_logged(app: Celery, log_events: CapturedEvents) -> None:
    """Eager runs log task.failed and task.retried like a worker's runs."""
    with at.bind(correlation_id="cid-eager-f"):
        failed = app.tasks["examples.fail"].delay("eager boom")
        retried = app.tasks["examples.flaky"].delay(1)
    assert failed.failed()
    assert retried.get() == 1
    failures = task_events(log_events, "task.failed", failed.id)
    assert (
        failures[0]["exception"]["type"],
        failures[0]["correlation_id"],
    ) == ("ValueError", "cid-eager-f")
    retries = task_events(log_events, "task.retried", retried.id)
    assert [line["data"]["retries"] for line in retries] == [1]
    ends = task_events(log_events, "task.end", retried.id)
    assert [line["data"]["status"] for line in ends] == ["retry", "ok"]
    assert {"cid-eager-f"} == {line["correlation_id"] for line in ends}


def _celery_trace_lines(events: CapturedEvents) -> list[str]:
    return [line["message"] for line in events.raw if line["logger"] == "celery.app.trace"]


def test_eager_runs_log_no_celery_outcome_line(app: Celery, log_events: CapturedEvents) -> None:
    """Eager success, failure and retry: Celery's own outcome lines are not written."""
    app.tasks["examples.add"].delay(1, 2).get()
    assert app.tasks["examples.fail"].delay("quiet").failed()
    assert app.tasks["examples.flaky"].delay(1).get() == 1
    assert _celery_trace_lines(log_events) == []
    assert len(log_events.by_event("task.end")) == 4


def test_ignored_and_expected_failures_are_logged_once_and_a_rejection_keeps_its_reason(
    app: Celery, log_events: CapturedEvents
) -> None:
    """Ignore() and an exception listed in ``throws``: Celery's "ignored" and "raised expected"
    lines are dropped (task.end / task.failed say it); Reject(): Celery's line with the reason,
    which no lifecycle line carries, stays."""

    @app.task(name="dup.ignored")
    def ignored() -> None:
        """Ignore the run."""
        raise Ignore()

    @app.task(name="dup.expected", throws=(KeyError,))
    def expected() -> None:
        """Raise an expected exception."""
        raise KeyError("expected-key")

    @app.task(name="dup.rejected")
    def rejected() -> None:
        """Reject the message."""
        raise Reject("not for this worker", requeue=False)

    ignored.delay()
    assert expected.delay().failed()
    rejected.delay()
    ends = {
        line["data"]["task"]: line["data"]["status"] for line in log_events.by_event("task.end")
    }
    assert ends == {"dup.ignored": "ignored", "dup.expected": "error", "dup.rejected": "rejected"}
    failed = log_events.by_event("task.failed")
    assert [line["exception"]["type"] for line in failed] == ["KeyError"]
    messages = _celery_trace_lines(log_events)
    assert len(messages) == 1
    assert "dup.rejected" in messages[0]
    assert "not for this worker" in messages[0]


def test_celerys_success_line_stays_when_our_logger_is_silenced(
    app: Celery, log_events: CapturedEvents
) -> None:
    """agent_tracing.celery set to WARNING writes no task.end, so Celery's success line stays
    (nothing is dropped that is not said elsewhere)."""
    ours = logging.getLogger("agent_tracing.celery")
    ours.setLevel(logging.WARNING)
    try:
        task_id = app.tasks["examples.add"].delay(1, 2).id
    finally:
        ours.setLevel(logging.NOTSET)
    assert log_events.by_event("task.end") == []
    messages = _celery_trace_lines(log_events)
    assert len(messages) == 1
    assert f"[{task_id}] succeeded in " in messages[0]


def test_eager_chain_keeps_the_id(app: Celery, log_events: CapturedEvents) -> None:
    """Every step of an eager chain logs under the caller's id."""
    add = app.tasks["examples.add"]
    with at.bind(correlation_id="cid-eager-chain"):
        assert chain(add.s(1, 1), add.s(2), add.s(3)).delay().get() == 7
    starts = log_events.by_event("task.start")
    assert [line["correlation_id"] for line in starts] == ["cid-eager-chain"] * 3


def test_a_separate_succeeded_line_on_request(tmp_path: Path, log_events: CapturedEvents) -> None:
    """TaskLogOptions(log_succeeded=True) adds task.succeeded with the duration and result."""
    uninstrument_celery()
    instrument_celery(options=TaskLogOptions(log_succeeded=True), worker_logging=False)
    try:
        app = isolated_app(None, None, tmp_path, task_always_eager=True)
        app.tasks["examples.add"].delay(2, 2).get()
    finally:
        uninstrument_celery()
    succeeded = log_events.by_event("task.succeeded")
    assert succeeded[0]["data"]["result"] == 4
    assert succeeded[0]["data"]["duration_ms"] >= 0
    ours = [line["event"] for line in log_events.raw if line["logger"] == "agent_tracing.celery"]
    assert ours == ["task.start", "task.succeeded", "task.end"]


def test_one_line_per_task_on_request(tmp_path: Path, log_events: CapturedEvents) -> None:
    """TaskLogOptions(log_start=False): a run logs only task.end, with the start fields."""
    uninstrument_celery()
    instrument_celery(options=TaskLogOptions(log_start=False), worker_logging=False)
    try:
        app = isolated_app(None, None, tmp_path, task_always_eager=True)
        with at.bind(correlation_id="cid-one"):
            app.tasks["examples.add"].delay(2, 5).get()
    finally:
        uninstrument_celery()
    ours = [line for line in log_events.raw if line["logger"] == "agent_tracing.celery"]
    assert [line["event"] for line in ours] == ["task.end"]
    data = ours[0]["data"]
    assert (data["args"], data["result"], data["context"], data["status"]) == (
        [2, 5],
        7,
        "caller",
        "ok",
    )
