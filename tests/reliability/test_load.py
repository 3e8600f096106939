"""Load: the real app under uvicorn and a prefork Celery worker over Redis, with every line
checked for its correlation id and none lost. The ``stress`` runs are the issue's sizes; the quick
ones keep the same checks at a size the normal suite can afford."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.result import AsyncResult

import agent_tracing as at
import tests.reliability.stress_tasks  # noqa: F401  (registers the stress tasks)
from tests.integrations.celery_support import instrumented, isolated_app
from tests.reliability.conftest import file_lines
from tests.reliability.processes import (
    check_requests,
    drive,
    plan,
    start_server,
    start_worker,
    stop_worker,
)

pytestmark = pytest.mark.slow


def run_web_load(tmp_path: Path, requests: int, in_flight: int, **env: str) -> dict[str, float]:
    """Drive ``requests`` mixed requests at ``in_flight`` against uvicorn, stop it, check."""
    server = start_server(tmp_path / "web.jsonl", **env)
    try:
        sent = plan(requests)
        seconds = drive(server.base_url, sent, in_flight)
    finally:
        server.stop()
    assert [item for item in sent if item.status != 200][:5] == []
    counts = check_requests(sent, file_lines(server.log_file))
    assert requests == counts["requests"]
    return {**counts, "seconds": seconds}


def test_quick_web_load_loses_and_mixes_nothing(tmp_path: Path) -> None:
    """300 mixed requests (async, sync, streaming, background) at 20 in flight: each request has
    exactly one start and one end line, every handler line, and no line a wrong or missing id."""
    run_web_load(tmp_path, 300, 20)


@pytest.mark.stress
def test_web_load_2000_requests_at_50_in_flight(tmp_path: Path) -> None:
    """2,000 mixed requests at 50 in flight: zero lost request/response lines, zero lines with a
    wrong or missing correlation id."""
    result = run_web_load(tmp_path, 2000, 50)
    print(f"web load: {result}")


@pytest.mark.stress
def test_web_load_2000_requests_in_queue_mode(tmp_path: Path) -> None:
    """The same 2,000 requests with logging in queue mode (AGENT_TRACING_QUEUE=1)."""
    result = run_web_load(tmp_path, 2000, 50, AGENT_TRACING_QUEUE="1")
    print(f"web load, queue mode: {result}")


def purge(app: Celery) -> None:
    """Leave no test queue behind on the shared Redis."""
    try:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(app.conf.task_default_queue)
    except Exception:
        pass


def check_tasks(
    results: dict[int, AsyncResult], seen: dict[int, dict[str, Any]], lines: list[dict[str, Any]]
) -> None:
    """Each task: one start and one end line; all its lines under its span carry one context,
    the published one (even tags) or a fresh one of its own (odd tags); the nested binding
    never outlives its block; no task line belongs to no task."""
    ids = {result.id: index for index, result in results.items()}
    starts = [line for line in lines if line["event"] == "task.start"]
    ends = [line for line in lines if line["event"] == "task.end"]
    assert sorted(ids) == sorted(line["data"]["task_id"] for line in starts)
    assert sorted(ids) == sorted(line["data"]["task_id"] for line in ends)
    owner = {line["span_id"]: ids[line["data"]["task_id"]] for line in starts}
    by_task: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        if line["logger"] == "tests.stress_tasks":
            assert line["span_id"] in owner, line  # no task line outside a task's span
        if line["span_id"] in owner:
            by_task[owner[line["span_id"]]].append(line)
    fresh: set[str] = set()
    for index in results:
        mine = by_task[index]
        events = [line["event"] for line in mine]
        assert events[:3] == ["task.start", "stress.probe", "stress.probe.bound"], events
        assert events[-1] == "task.end"
        cids = {line["correlation_id"] for line in mine}
        users = {line["user_id"] for line in mine}
        assert len(cids) == 1, (index, cids)
        assert {seen[index]["correlation_id"]} == cids
        if index % 2:
            assert {None} == users
            fresh |= cids
        else:
            assert ({f"cid-{index}"}, {f"user-{index}"}) == (cids, users)
        backtests = {line["event"]: line["backtest_id"] for line in mine}
        assert (None, index) == (backtests["stress.probe"], backtests["stress.probe.bound"])
        assert None is backtests["task.end"]
    odd = len([index for index in results if index % 2])
    assert odd == len(fresh)  # every context-less task got its own new id
    assert not fresh & {f"cid-{index}" for index in results}


def publish(app: Celery, tasks: int) -> dict[int, AsyncResult]:
    """``tasks`` probes: even tags inside a bound context, odd tags with none."""
    probe = app.tasks["stress.probe"]
    results = {}
    for index in range(tasks):
        if index % 2:
            results[index] = probe.delay(index)
        else:
            with at.bind(correlation_id=f"cid-{index}", user_id=f"user-{index}"):
                results[index] = probe.delay(index)
    return results


def run_task_load(tmp_path: Path, redis_url: str, tasks: int) -> dict[str, float]:
    """Publish ``tasks`` probes to a prefork worker (2 children) over Redis and check them."""
    log_file = tmp_path / "worker.jsonl"
    with instrumented():
        app = isolated_app(redis_url, redis_url, tmp_path / "celery")
        worker = start_worker(log_file, redis_url, app.conf.task_default_queue)
        try:
            started = time.perf_counter()
            results = publish(app, tasks)
            seen = {index: result.get(timeout=300) for index, result in results.items()}
            seconds = time.perf_counter() - started
        finally:
            stop_worker(worker)
            purge(app)
    lines = file_lines(log_file)
    check_tasks(results, seen, lines)
    assert len({item["pid"] for item in seen.values()}) == 2  # both children worked
    return {"tasks": tasks, "lines": len(lines), "seconds": seconds}


@pytest.mark.services
def test_quick_task_load_never_shares_context(tmp_path: Path, redis_url: str) -> None:
    """150 tasks over Redis on 2 prefork children, half published with a context: no task's
    lines carry another task's context, none is lost."""
    run_task_load(tmp_path, redis_url, 150)


@pytest.mark.stress
@pytest.mark.services
def test_task_load_1000_tasks_never_share_context(tmp_path: Path, redis_url: str) -> None:
    """1,000 tasks over Redis on 2 prefork children, half with a published context."""
    print(f"task load: {run_task_load(tmp_path, redis_url, 1000)}")
