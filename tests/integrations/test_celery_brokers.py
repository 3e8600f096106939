"""The same propagation over the real brokers: Redis and RabbitMQ (a worker thread each)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery, chain, chord, group

import agent_tracing as at
from agent_tracing.testing import CapturedEvents
from tests.integrations.celery_support import (
    celery_outcome_lines,
    instrumented,
    isolated_app,
    task_events,
    thread_worker,
    wait_for_end,
)

TIMEOUT = 20


def _scenario(app: Celery, events: CapturedEvents) -> None:
    """Context, a failure, a retry, a chain, a group, a chord and secrets, on ``app``'s broker."""
    cid = at.new_correlation_id()
    tasks = app.tasks
    with (
        at.bind(correlation_id=cid, user_id="user_b", strategy_id=7),
        at.span("request", kind="http.request") as request,
    ):
        probe = tasks["examples.context"].delay("probe")
        failing = tasks["examples.fail"].delay("broker boom")
        flaky = tasks["examples.flaky"].delay(1)
        chained = chain(tasks["examples.add"].s(1, 2), tasks["examples.context"].s()).delay()
        grouped = group(tasks["examples.context"].s(n) for n in range(3)).delay()
        chorded = chord([tasks["examples.add"].s(n, n) for n in range(3)])(
            tasks["examples.collect"].s()
        )
        secret = tasks["examples.login"].delay("bob", password="hunter2-broker")

    seen = probe.get(timeout=TIMEOUT)
    assert (seen["correlation_id"], seen["user_id"], seen["strategy_id"]) == (cid, "user_b", 7)
    assert seen["parent_span_id"] == request.span_id

    with pytest.raises(ValueError, match="broker boom"):
        failing.get(timeout=TIMEOUT)
    wait_for_end(events, failing.id)
    failed = task_events(events, "task.failed", failing.id)
    assert (failed[0]["correlation_id"], failed[0]["exception"]["type"]) == (cid, "ValueError")

    assert flaky.get(timeout=TIMEOUT) == 1
    ends = wait_for_end(events, flaky.id, count=2)
    assert [end["data"]["status"] for end in ends] == ["retry", "ok"]
    assert {end["correlation_id"] for end in ends} == {cid}
    # Celery's own succeeded / raised / retry lines would repeat task.end, task.failed and
    # task.retried.
    for task_id in (probe.id, failing.id, flaky.id):
        assert celery_outcome_lines(events, task_id) == []

    assert chained.get(timeout=TIMEOUT)["correlation_id"] == cid
    assert [item["correlation_id"] for item in grouped.get(timeout=TIMEOUT)] == [cid] * 3
    collected = chorded.get(timeout=TIMEOUT)
    assert (collected["count"], collected["correlation_id"]) == (3, cid)

    assert secret.get(timeout=TIMEOUT) == "welcome bob"
    wait_for_end(events, secret.id)
    assert "hunter2-broker" not in repr(events.raw)


@pytest.fixture
def isolation() -> Iterator[None]:
    """Instrumented with quiet worker logging for the test."""
    with instrumented():
        yield


def test_propagation_over_redis(
    redis_url: str, tmp_path: Path, isolation: None, log_events: CapturedEvents
) -> None:
    """Over Redis (broker and result backend), every path keeps the publisher's context."""
    app = isolated_app(redis_url, redis_url, tmp_path)
    with thread_worker(app):
        _scenario(app, log_events)


def test_propagation_over_rabbitmq(
    rabbitmq_url: str, tmp_path: Path, isolation: None, log_events: CapturedEvents
) -> None:
    """Over RabbitMQ (file result backend), every path keeps the publisher's context."""
    app = isolated_app(rabbitmq_url, None, tmp_path)
    with thread_worker(app):
        _scenario(app, log_events)
