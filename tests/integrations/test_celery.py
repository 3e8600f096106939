"""Celery integration over the embedded broker with a real worker (a thread of this process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, chain, chord, group
from kombu import Exchange, Producer, Queue
from syrupy.assertion import SnapshotAssertion

import agent_tracing as at
from agent_tracing.celery import HEADER_CONTEXT, HEADER_CORRELATION_ID
from agent_tracing.testing import CapturedEvents
from tests.integrations.celery_support import (
    instrumented,
    isolated_app,
    lines_of,
    task_events,
    thread_worker,
    wait_for,
    wait_for_end,
)

TIMEOUT = 15


@pytest.fixture(scope="module")
def celery_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Celery]:
    """An instrumented app on the embedded broker (files under a temporary folder)."""
    with instrumented():
        yield isolated_app(None, None, tmp_path_factory.mktemp("celery"))


@pytest.fixture(scope="module")
def worker(celery_app: Celery) -> Iterator[Any]:
    """One worker thread for the whole module."""
    with thread_worker(celery_app) as running:
        yield running


@pytest.fixture
def app(celery_app: Celery, worker: Any) -> Celery:
    """The app, with its worker running."""
    return celery_app


def _request_context(cid: str) -> at.bind:
    return at.bind(correlation_id=cid, user_id="user_123", strategy_id=456, backtest_id=789)


def test_task_in_bound_context_logs_worker_lines_with_its_ids(
    app: Celery, log_events: CapturedEvents
) -> None:
    """A task published inside a bound context logs, in the worker, lines with that context."""
    cid = at.new_correlation_id()
    with _request_context(cid), at.span("POST /backtests", kind="http.request") as request:
        result = app.tasks["examples.context"].delay("probe")
    seen = result.get(timeout=TIMEOUT)
    wait_for_end(log_events, result.id)
    assert cid == seen["correlation_id"]
    assert (seen["user_id"], seen["strategy_id"], seen["backtest_id"]) == ("user_123", 456, 789)
    assert request.span_id == seen["parent_span_id"]
    worker_lines = [
        line for line in lines_of(log_events, cid) if line["span_id"] == seen["span_id"]
    ]
    assert [line["event"] for line in worker_lines] == ["task.start", None, "task.end"]
    assert {"app.tasks.examples", "agent_tracing.celery"} == {
        line["logger"] for line in worker_lines
    }
    for line in worker_lines:
        assert (line["user_id"], line["strategy_id"], line["backtest_id"]) == ("user_123", 456, 789)
        assert request.span_id == line["parent_span_id"]
    start = task_events(log_events, "task.start", result.id)[0]["data"]
    assert start["args"] == ["probe"]
    assert start["context"] == "headers"
    assert app.conf.task_default_queue == start["queue"]


def test_publish_is_logged_in_the_publisher_span(app: Celery, log_events: CapturedEvents) -> None:
    """The publisher logs task.published in its own span with the task id and queue."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid), at.span("publish", kind="service") as publisher:
        result = app.tasks["examples.add"].delay(1, 2)
    assert result.get(timeout=TIMEOUT) == 3
    published = task_events(log_events, "task.published", result.id)
    assert len(published) == 1
    assert (cid, publisher.span_id) == (published[0]["correlation_id"], published[0]["span_id"])
    assert app.conf.task_default_queue == published[0]["data"]["queue"]


def test_task_without_context_gets_a_fresh_correlation_id(
    app: Celery, log_events: CapturedEvents
) -> None:
    """A task published with no context runs under a new correlation id, marked as new."""
    result = app.tasks["examples.context"].delay("bare")
    seen = result.get(timeout=TIMEOUT)
    wait_for_end(log_events, result.id)
    start = task_events(log_events, "task.start", result.id)[0]
    assert start["data"]["context"] == "new"
    assert seen["correlation_id"] == start["correlation_id"]
    assert None is seen["user_id"]
    assert None is start["parent_span_id"]
    assert sum(1 for line in log_events.raw if (line["data"] or {}).get("context") == "new") == 1


def test_no_context_carries_into_the_next_task(app: Celery, log_events: CapturedEvents) -> None:
    """After a task with context, the next task without context sees none of it."""
    with at.bind(correlation_id="cid-first", user_id="user_first"):
        first = app.tasks["examples.context"].delay("first")
    second = app.tasks["examples.context"].delay("second")
    assert first.get(timeout=TIMEOUT)["user_id"] == "user_first"
    seen = second.get(timeout=TIMEOUT)
    assert None is seen["user_id"]
    assert seen["correlation_id"] != "cid-first"


def test_failing_task_logs_failed_with_traceback(app: Celery, log_events: CapturedEvents) -> None:
    """A failing task logs task.failed at ERROR with the exception, then task.end status error."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid):
        result = app.tasks["examples.fail"].delay("broken input")
    with pytest.raises(ValueError, match="broken input"):
        result.get(timeout=TIMEOUT)
    end = wait_for_end(log_events, result.id)[0]
    failed = task_events(log_events, "task.failed", result.id)
    assert len(failed) == 1
    assert ("ERROR", cid) == (failed[0]["level"], failed[0]["correlation_id"])
    assert failed[0]["exception"]["type"] == "ValueError"
    assert failed[0]["exception"]["message"] == "broken input"
    assert "raise ValueError(message)" in failed[0]["exception"]["traceback"]
    assert ("error", "FAILURE", cid) == (
        end["data"]["status"],
        end["data"]["state"],
        end["correlation_id"],
    )


def test_retried_task_keeps_its_context(app: Celery, log_events: CapturedEvents) -> None:
    """self.retry(): each attempt is a span under the same correlation id; retries are logged."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid, user_id="user_r"):
        result = app.tasks["examples.flaky"].delay(2)
    assert result.get(timeout=TIMEOUT) == 2
    ends = wait_for_end(log_events, result.id, count=3)
    assert [end["data"]["status"] for end in ends] == ["retry", "retry", "ok"]
    retried = task_events(log_events, "task.retried", result.id)
    assert [line["data"]["retries"] for line in retried] == [1, 2]
    assert [line["data"]["countdown"] for line in retried] == [0.1, 0.1]
    assert retried[0]["data"]["reason"] == "TransientError: attempt 0"
    starts = task_events(log_events, "task.start", result.id)
    assert {cid} == {line["correlation_id"] for line in [*starts, *ends, *retried]}
    assert {"user_r"} == {line["user_id"] for line in starts}
    # Each attempt is published from inside the previous one: the previous is its parent.
    assert starts[1]["parent_span_id"] == starts[0]["span_id"]
    assert starts[2]["parent_span_id"] == starts[1]["span_id"]


def test_autoretry_keeps_its_context(app: Celery, log_events: CapturedEvents) -> None:
    """autoretry_for: the retried attempts keep the correlation id."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid):
        result = app.tasks["examples.autoretry"].delay(1)
    assert result.get(timeout=TIMEOUT) == 1
    ends = wait_for_end(log_events, result.id, count=2)
    assert [cid, cid] == [end["correlation_id"] for end in ends]
    assert len(task_events(log_events, "task.retried", result.id)) == 1


def test_countdown_keeps_context(app: Celery, log_events: CapturedEvents) -> None:
    """A task published with a countdown (an eta) runs later under the same id."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid):
        result = app.tasks["examples.context"].apply_async(("later",), countdown=0.2)
    assert cid == result.get(timeout=TIMEOUT)["correlation_id"]
    start = task_events(log_events, "task.start", result.id)[0]
    assert "eta" in start["data"]


def test_chain_steps_keep_the_id(app: Celery, log_events: CapturedEvents) -> None:
    """Every step of a chain, published by the worker after the previous one, keeps the id."""
    cid = at.new_correlation_id()
    add = app.tasks["examples.add"]
    with at.bind(correlation_id=cid):
        result = chain(add.s(1, 2), add.s(3), add.s(4)).apply_async()
    assert result.get(timeout=TIMEOUT) == 10
    wait_for_end(log_events, result.id)
    starts = [line for line in log_events.by_event("task.start") if line["correlation_id"] == cid]
    assert len(starts) == 3
    # Each step's parent is the step that published it.
    assert starts[1]["parent_span_id"] == starts[0]["span_id"]
    assert starts[2]["parent_span_id"] == starts[1]["span_id"]


def test_group_members_keep_the_id(app: Celery, log_events: CapturedEvents) -> None:
    """Every member of a group runs under the publisher's id and span."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid), at.span("fan out", kind="service") as publisher:
        result = group(app.tasks["examples.context"].s(n) for n in range(3)).apply_async()
    seen = result.get(timeout=TIMEOUT)
    assert [cid] * 3 == [item["correlation_id"] for item in seen]
    assert [publisher.span_id] * 3 == [item["parent_span_id"] for item in seen]


def test_chord_callback_keeps_the_id(app: Celery, log_events: CapturedEvents) -> None:
    """A chord's callback, published by the worker when the header is done, keeps the id."""
    cid = at.new_correlation_id()
    header = [app.tasks["examples.add"].s(n, n) for n in range(3)]
    with at.bind(correlation_id=cid, user_id="user_c"):
        result = chord(header)(app.tasks["examples.collect"].s())
    seen = result.get(timeout=TIMEOUT)
    assert (3, cid, "user_c") == (seen["count"], seen["correlation_id"], seen["user_id"])


def test_task_started_from_a_task_keeps_the_id(app: Celery, log_events: CapturedEvents) -> None:
    """A task published inside a task keeps the id; its parent span is the publishing task."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid):
        parent = app.tasks["examples.spawn"].delay("child")
    child_id = parent.get(timeout=TIMEOUT)
    seen = app.AsyncResult(child_id).get(timeout=TIMEOUT)
    parent_start = task_events(log_events, "task.start", parent.id)[0]
    assert cid == seen["correlation_id"]
    assert parent_start["span_id"] == seen["parent_span_id"]
    child_start = wait_for(lambda: task_events(log_events, "task.start", child_id))[0]
    assert parent.id == child_start["data"]["parent_task_id"]


def test_async_task_body_keeps_context(app: Celery, log_events: CapturedEvents) -> None:
    """An async def body (AsyncTask) logs under the task's context and binds nothing outside."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid):
        result = app.tasks["examples.async_context"].delay("async")
    seen = result.get(timeout=TIMEOUT)
    end = wait_for_end(log_events, result.id)[0]
    assert cid == seen["correlation_id"]
    bound = [line for line in lines_of(log_events, cid) if line["message"] == "Async probe bound"]
    assert bound[0]["backtest_id"] == 42
    assert None is end["backtest_id"]


def test_secrets_in_task_args_reach_no_line(app: Celery, log_events: CapturedEvents) -> None:
    """Secrets passed as task args are redacted in every line, Celery's own included."""
    cid = at.new_correlation_id()
    secrets = ("hunter2", "sk-live-0123456789abcdefghij", "k-secret-77")
    with at.bind(correlation_id=cid):
        result = app.tasks["examples.login"].apply_async(
            ("alice",),
            {
                "password": secrets[0],
                "settings": {"exchange": {"api_key": secrets[1], "secret": secrets[2]}},
            },
        )
    assert result.get(timeout=TIMEOUT) == "welcome alice"
    wait_for_end(log_events, result.id)
    text = repr(log_events.raw)
    for secret in secrets:
        assert secret not in text
    start = task_events(log_events, "task.start", result.id)[0]["data"]
    expected = {
        "password": "[REDACTED]",
        "settings": {"exchange": {"api_key": "[REDACTED]", "secret": "[REDACTED]"}},
    }
    assert start["kwargs"] == expected


def test_argsrepr_headers_are_redacted_at_publish(app: Celery) -> None:
    """The argsrepr/kwargsrepr headers Celery prints are built from redacted arguments."""
    captured: dict[str, Any] = {}

    def keep(headers: Any = None, **_: Any) -> None:
        captured.update(headers)

    from celery import signals

    signals.before_task_publish.connect(keep, weak=False)
    try:
        with at.bind(correlation_id="cid-argsrepr", user_id="u-9"), at.span("p") as publisher:
            app.tasks["examples.login"].apply_async(
                ("bob", "hunter2"), {"settings": {"token": "tok-123"}}, countdown=60
            )
    finally:
        signals.before_task_publish.disconnect(keep)
    assert captured["argsrepr"] == "('bob', '[REDACTED]')"  # the ``password`` position
    assert captured["kwargsrepr"] == "{'settings': {'token': '[REDACTED]'}}"
    assert captured[HEADER_CORRELATION_ID] == "cid-argsrepr"
    assert {"user_id": "u-9", "parent_span_id": publisher.span_id} == captured[HEADER_CONTEXT]
    app.control.revoke(captured["id"])


def test_unknown_task_is_logged_with_the_publishers_context(
    app: Celery, log_events: CapturedEvents
) -> None:
    """A message for an unregistered task is logged as task.unknown under the sender's id."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid):
        result = app.send_task("examples.no_such_task", (1,))
    unknown = wait_for(lambda: task_events(log_events, "task.unknown", result.id))
    assert (cid, "ERROR", "examples.no_such_task") == (
        unknown[0]["correlation_id"],
        unknown[0]["level"],
        unknown[0]["data"]["task"],
    )


def test_rejected_message_is_logged(app: Celery, log_events: CapturedEvents) -> None:
    """A message on the task queue that is not a task is logged as task.rejected."""
    queue_name = app.conf.task_default_queue
    with app.connection_for_write() as connection:
        producer = Producer(connection)
        queue = Queue(queue_name, Exchange(queue_name), routing_key=queue_name)
        producer.publish(
            {"not": "a task"},
            exchange=queue.exchange,
            routing_key=queue_name,
            declare=[queue],
            headers={HEADER_CORRELATION_ID: "cid-rejected"},
            serializer="json",
        )
    rejected = wait_for(lambda: log_events.by_event("task.rejected"))
    assert (rejected[0]["correlation_id"], rejected[0]["level"]) == ("cid-rejected", "ERROR")


def test_expired_task_is_logged_as_revoked(app: Celery, log_events: CapturedEvents) -> None:
    """A task whose expiry passed before it ran is logged as task.revoked with its context."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid):
        result = app.tasks["examples.add"].apply_async(
            (1, 1), expires=datetime.now(UTC) - timedelta(minutes=1)
        )
    revoked = wait_for(lambda: task_events(log_events, "task.revoked", result.id))
    assert (cid, True) == (revoked[0]["correlation_id"], revoked[0]["data"]["expired"])
    assert task_events(log_events, "task.start", result.id) == []


def _lifecycle(events: CapturedEvents, cid: str) -> list[dict[str, Any]]:
    return [
        line
        for line in lines_of(events, cid)
        if line["logger"] == "agent_tracing.celery" and line["event"] != "task.published"
    ]


def test_snapshot_of_a_succeeding_task(
    app: Celery, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """The normalised lifecycle lines of a succeeding task."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid, user_id="user_123", strategy_id=456):
        result = app.tasks["examples.add"].delay(2, 3)
    assert result.get(timeout=TIMEOUT) == 5
    wait_for_end(log_events, result.id)
    from agent_tracing.testing import normalize_events

    lines = normalize_events(_lifecycle(log_events, cid))
    for line in lines:
        line["data"].pop("queue", None)  # the queue name is unique per run
    assert lines == snapshot


def test_snapshot_of_a_failing_task(
    app: Celery, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """The normalised lifecycle lines of a failing task."""
    cid = at.new_correlation_id()
    with at.bind(correlation_id=cid, user_id="user_123"):
        result = app.tasks["examples.fail"].delay("bad")
    with pytest.raises(ValueError, match="bad"):
        result.get(timeout=TIMEOUT)
    wait_for_end(log_events, result.id)
    from agent_tracing.testing import normalize_events

    lines = normalize_events(_lifecycle(log_events, cid))
    for line in lines:
        line["data"].pop("queue", None)
    assert lines == snapshot


def test_embedded_broker_survives_a_burst(app: Celery, tmp_path: Path) -> None:
    """300 tasks published at once all complete on the embedded broker (no torn messages)."""
    add = app.tasks["examples.noop"]
    results = [add.delay() for _ in range(300)]
    for result in results:
        assert None is result.get(timeout=60)
