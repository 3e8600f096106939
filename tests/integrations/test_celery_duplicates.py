"""Celery's own outcome lines that a lifecycle line already carries are written once, by us,
with a real worker (a thread of this process, embedded broker); the opt-out writes them again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

import agent_tracing as at
from agent_tracing.celery import TaskLogOptions
from agent_tracing.testing import CapturedEvents
from tests.integrations.celery_support import (
    celery_outcome_lines,
    instrumented,
    isolated_app,
    received_lines,
    task_events,
    thread_worker,
    wait_for,
    wait_for_end,
)

TIMEOUT = 15


@pytest.fixture
def worker_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Celery]:
    """An app instrumented with the options of the test's parameter, its worker running."""
    with instrumented(request.param):
        app = isolated_app(None, None, tmp_path)
        with thread_worker(app):
            yield app


def _run_three(app: Celery, events: CapturedEvents) -> tuple[Any, Any, Any]:
    """A success, a failure and a run retried once, each waited for to its last task.end."""
    with at.bind(correlation_id=at.new_correlation_id()):
        ok = app.tasks["examples.add"].delay(2, 3)
        failing = app.tasks["examples.fail"].delay("dup boom")
        flaky = app.tasks["examples.flaky"].delay(1)
    assert ok.get(timeout=TIMEOUT) == 5
    with pytest.raises(ValueError, match="dup boom"):
        failing.get(timeout=TIMEOUT)
    assert flaky.get(timeout=TIMEOUT) == 1
    for task_id, count in ((ok.id, 1), (failing.id, 1), (flaky.id, 2)):
        wait_for_end(events, task_id, count)
    return ok, failing, flaky


@pytest.mark.parametrize("worker_app", [None], indirect=True)
def test_each_outcome_is_logged_once(worker_app: Celery, log_events: CapturedEvents) -> None:
    """Success, failure and retry: our lines only (the traceback once), Celery's outcome lines
    dropped, its "received" lines kept."""
    ok, failing, flaky = _run_three(worker_app, log_events)
    for task_id in (ok.id, failing.id, flaky.id):
        assert celery_outcome_lines(log_events, task_id) == []
        assert received_lines(log_events, task_id)
    end = task_events(log_events, "task.end", ok.id)[0]["data"]
    assert (end["status"], end["result"]) == ("ok", 5)
    tracebacks = [line for line in log_events.raw if "dup boom" in str(line.get("exception"))]
    assert [line["event"] for line in tracebacks] == ["task.failed"]
    assert "raise ValueError(message)" in tracebacks[0]["exception"]["traceback"]
    retried = task_events(log_events, "task.retried", flaky.id)
    assert [line["data"]["reason"] for line in retried] == ["TransientError: attempt 0"]


@pytest.mark.parametrize("worker_app", [TaskLogOptions(keep_celery_task_lines=True)], indirect=True)
def test_keep_celery_task_lines_writes_them_again(
    worker_app: Celery, log_events: CapturedEvents
) -> None:
    """keep_celery_task_lines=True: Celery's succeeded, raised and retry lines are written too,
    in the run's context, next to the lifecycle lines."""
    ok, failing, flaky = _run_three(worker_app, log_events)

    def outcomes() -> dict[str, list[dict[str, Any]]] | None:
        found = {
            task_id: celery_outcome_lines(log_events, task_id)
            for task_id in (ok.id, failing.id, flaky.id)
        }
        return found if all(found.values()) else None

    found = wait_for(outcomes)
    assert [" succeeded in " in line["message"] for line in found[ok.id]] == [True]
    assert [(line["level"], line["exception"]["message"]) for line in found[failing.id]] == [
        ("ERROR", "dup boom")
    ]
    assert [" retry: " in line["message"] for line in found[flaky.id]] == [True, False]
    assert " succeeded in " in found[flaky.id][1]["message"]
    start = task_events(log_events, "task.start", ok.id)[0]
    assert (found[ok.id][0]["span_id"], found[ok.id][0]["correlation_id"]) == (
        start["span_id"],
        start["correlation_id"],
    )
    assert task_events(log_events, "task.end", ok.id)[0]["data"]["status"] == "ok"
