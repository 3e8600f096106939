"""Faults: a broken view, SIGTERM under load in queue mode, a pool child killed mid-task, and
several processes (web server and worker) writing one rotating file."""

from __future__ import annotations

import os
import re
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from celery.result import AsyncResult

import agent_tracing as at
import tests.reliability.stress_tasks  # noqa: F401  (registers the stress tasks)
from tests.integrations.celery_support import instrumented, isolated_app, wait_for
from tests.reliability.conftest import file_lines
from tests.reliability.processes import (
    Sent,
    check_requests,
    drive,
    plan,
    start_server,
    start_worker,
    stop_worker,
)
from tests.reliability.test_load import check_tasks, publish, purge

pytestmark = pytest.mark.slow

REPORT = "could not write a log record"
END_LINE = re.compile(r" - (GET|POST) /_examples/[\w-]+ 200")


def test_json_view_on_a_full_device_under_the_real_app(tmp_path: Path) -> None:
    """JSON view to /dev/full under uvicorn: every request is served, the console view writes
    every end line, and stderr has the failure once."""
    server = start_server(
        Path("/dev/full"),
        output=tmp_path,
        AGENT_TRACING_CONSOLE="1",
        AGENT_TRACING_CONSOLE_STREAM="stdout",
        AGENT_TRACING_COLOR="0",
    )
    try:
        sent = plan(100)
        drive(server.base_url, sent, 10)
    finally:
        server.stop()
    assert [item.status for item in sent] == [200] * 100
    assert len(END_LINE.findall(server.out)) == 100
    assert server.err.count(REPORT) == 1


def test_a_raising_console_formatter_under_the_real_app(tmp_path: Path) -> None:
    """The console handler's formatter raises on every record: every request is served, the JSON
    file still has every line of every request, stderr has the failure once."""
    server = start_server(
        tmp_path / "web.jsonl",
        app="tests.reliability.faulty_app:app",
        AGENT_TRACING_CONSOLE="1",
        AGENT_TRACING_CONSOLE_STREAM="stdout",
    )
    try:
        sent = plan(100)
        drive(server.base_url, sent, 10)
    finally:
        server.stop()
    assert [item.status for item in sent] == [200] * 100
    check_requests(sent, file_lines(server.log_file))
    assert server.err.count(REPORT) == 1
    assert "formatter bug" in server.err


def sigterm_web_under_load(tmp_path: Path, requests: int, after: int) -> dict[str, int]:
    """Queue mode; SIGTERM once ``after`` responses are in: every request answered 200 (before
    the signal or during the graceful shutdown) has all its lines in the file."""
    server = start_server(tmp_path / "web.jsonl", AGENT_TRACING_QUEUE="1")
    sent = plan(requests)
    load = threading.Thread(target=drive, args=(server.base_url, sent, 50, 30))
    load.start()
    try:
        wait_for(lambda: sum(item.status == 200 for item in sent) >= after, 120, 0.005)
        before = sum(item.status == 200 for item in sent)
        server.process.send_signal(signal.SIGTERM)
    finally:
        load.join(timeout=120)
        server.stop()
    served = [item for item in sent if item.status == 200]
    refused = [item for item in sent if item.status != 200]
    assert not [item for item in refused if item.status not in (0, 503)]
    assert before >= after
    check_requests(served, [line for line in file_lines(server.log_file)
                            if line["correlation_id"] in {s.response_id for s in served}
                            or line["logger"].startswith("uvicorn")])  # fmt: skip
    unanswered = {item.sent_id for item in refused} - {None}
    lines = file_lines(server.log_file)
    # A request the server started but could not answer still has its start line; none of its
    # lines carries another request's id.
    partial = [line for line in lines if line["correlation_id"] in unanswered]
    assert all(line["logger"].startswith("app.") for line in partial)
    return {"answered": len(served), "before_signal": before, "unanswered": len(refused)}


def test_sigterm_to_the_web_server_under_load_keeps_every_accepted_line(tmp_path: Path) -> None:
    """SIGTERM to uvicorn (queue mode) while 50 requests are in flight: every answered
    request's start, handler and end lines are in the file."""
    sigterm_web_under_load(tmp_path, 400, 150)


@pytest.mark.stress
def test_sigterm_to_the_web_server_under_heavy_load(tmp_path: Path) -> None:
    """The same with 2,000 requests, the signal after 1,000 answers."""
    print(f"sigterm web: {sigterm_web_under_load(tmp_path, 2000, 1000)}")


def sigterm_worker_under_load(tmp_path: Path, redis_url: str, tasks: int, after: int) -> Any:
    """Queue mode; SIGTERM to the worker once ``after`` results are in: every task whose result
    was received has its start and end lines (and its own lines) in the file."""
    log_file = tmp_path / "worker.jsonl"
    with instrumented():
        app = isolated_app(redis_url, redis_url, tmp_path / "celery")
        worker = start_worker(log_file, redis_url, app.conf.task_default_queue)
        try:
            results = publish(app, tasks)
            # Tasks run about in order: polling one result keeps the poll cheap and the worker
            # still busy when the signal lands.
            wait_for(results[after - 1].ready, 120, 0.01)
            worker.send_signal(signal.SIGTERM)
            done = {index: r for index, r in results.items() if r.ready()}
            seen = {index: r.get(timeout=10) for index, r in done.items()}
            stop_worker(worker)
            # Results stored during the warm shutdown count as accepted too.
            late = {index: r for index, r in results.items() if index not in done and r.ready()}
            seen |= {index: r.get(timeout=10) for index, r in late.items()}
        finally:
            stop_worker(worker)
            purge(app)
    accepted: dict[int, AsyncResult] = {**done, **late}
    lines = file_lines(log_file)
    check_tasks(accepted, seen, lines_of(accepted, lines))
    return {"tasks": tasks, "accepted_before": len(done), "accepted_total": len(accepted)}


def lines_of(accepted: dict[int, AsyncResult], lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines of the accepted tasks (by their start line's span), and the lines of no task."""
    ids = {result.id for result in accepted.values()}
    spans = {
        line["span_id"]
        for line in lines
        if line["event"] == "task.start" and line["data"]["task_id"] in ids
    }
    other_spans = {
        line["span_id"]
        for line in lines
        if line["event"] == "task.start" and line["data"]["task_id"] not in ids
    }
    return [
        line
        for line in lines
        if line["span_id"] in spans
        or (line["span_id"] not in other_spans and line["logger"] != "tests.stress_tasks")
    ]


@pytest.mark.services
def test_sigterm_to_the_worker_under_load_keeps_every_accepted_line(
    tmp_path: Path, redis_url: str
) -> None:
    """SIGTERM to a prefork worker (queue mode) mid-load: every task whose result came back
    has all its lines in the file, each with its own context."""
    sigterm_worker_under_load(tmp_path, redis_url, 300, 60)


@pytest.mark.stress
@pytest.mark.services
def test_sigterm_to_the_worker_under_heavy_load(tmp_path: Path, redis_url: str) -> None:
    """The same with 1,000 tasks, the signal after 400 results."""
    print(f"sigterm worker: {sigterm_worker_under_load(tmp_path, redis_url, 1000, 400)}")


@pytest.mark.services
def test_a_pool_child_killed_mid_task_is_logged_with_the_task(
    tmp_path: Path, redis_url: str
) -> None:
    """SIGKILL from outside to the pool child running a task, while the other child works: the
    main process logs task.worker_lost (ERROR) with the task's id, name and context."""
    log_file = tmp_path / "worker.jsonl"
    with instrumented():
        app = isolated_app(redis_url, redis_url, tmp_path / "celery")
        worker = start_worker(log_file, redis_url, app.conf.task_default_queue)
        try:
            with at.bind(correlation_id="cid-killed", user_id="user-killed"):
                doomed = app.tasks["stress.sleep"].delay(60)
            others = publish(app, 20)

            def sleeping() -> list[dict[str, Any]]:
                lines = file_lines(log_file) if log_file.exists() else []
                return [line for line in lines if line["event"] == "stress.sleeping"]

            (line,) = wait_for(sleeping, 60, 0.1)
            os.kill(line["data"]["pid"], signal.SIGKILL)

            def lost() -> list[dict[str, Any]]:
                lines = file_lines(log_file)
                return [line for line in lines if line["event"] == "task.worker_lost"]

            (lost_line,) = wait_for(lost, 60, 0.2)
            seen = {index: result.get(timeout=60) for index, result in others.items()}
        finally:
            stop_worker(worker)
            purge(app)
    assert (
        lost_line["level"],
        lost_line["correlation_id"],
        lost_line["user_id"],
    ) == ("ERROR", "cid-killed", "user-killed")
    assert {"task": "stress.sleep", "task_id": doomed.id} == lost_line["data"]
    assert "WorkerLostError" in lost_line["exception"]["type"]
    rest = [line for line in file_lines(log_file) if line["correlation_id"] != "cid-killed"]
    check_tasks(others, seen, rest)  # the other tasks are untouched


def worker_line(line: dict[str, Any]) -> bool:
    return line["logger"].startswith(("celery", "agent_tracing.celery", "tests.stress_tasks"))


def shared_file(tmp_path: Path, redis_url: str, requests: int, tasks: int, max_bytes: int) -> Any:
    """uvicorn and a prefork worker (3 processes) append to one size-rotated file under load."""
    log_file = tmp_path / "shared.jsonl"
    rotation = {
        "AGENT_TRACING_ROTATE": "size",
        "AGENT_TRACING_MAX_BYTES": str(max_bytes),
        "AGENT_TRACING_BACKUP_COUNT": "10000",
    }
    sent: list[Sent] = plan(requests)
    with instrumented():
        app = isolated_app(redis_url, redis_url, tmp_path / "celery")
        worker = start_worker(log_file, redis_url, app.conf.task_default_queue, **rotation)
        server = start_server(log_file, **rotation)
        try:
            load = threading.Thread(target=drive, args=(server.base_url, sent, 20))
            load.start()
            results = publish(app, tasks)
            seen = {index: result.get(timeout=300) for index, result in results.items()}
            load.join(timeout=300)
        finally:
            server.stop()
            stop_worker(worker)
            purge(app)
    # Oldest first: shared.jsonl.<n> (the highest n is the oldest), then shared.jsonl.
    files = sorted(
        (f for f in tmp_path.glob("shared.jsonl*") if not f.name.endswith(".lock")),
        key=lambda f: -int(f.suffix[1:]) if f.suffix[1:].isdigit() else 0,
    )
    lines = [line for f in files for line in file_lines(f)]  # each file: whole lines only
    assert [(item.path, item.error) for item in sent if item.status != 200] == []
    check_requests(sent, [line for line in lines if not worker_line(line)])
    check_tasks(results, seen, lines)
    assert len(files) > 3  # it did rotate, several times
    return {"files": len(files), "lines": len(lines)}


@pytest.mark.services
def test_web_and_worker_share_one_rotating_file(tmp_path: Path, redis_url: str) -> None:
    """300 requests and 150 tasks, 4 processes writing one file rotated every 128 kB: no torn or
    interleaved line, no line lost, none duplicated."""
    shared_file(tmp_path, redis_url, 300, 150, 128 * 1024)


@pytest.mark.stress
@pytest.mark.services
def test_web_and_worker_share_one_rotating_file_under_heavy_load(
    tmp_path: Path, redis_url: str
) -> None:
    """2,000 requests and 1,000 tasks into one file rotated every 256 kB."""
    print(f"shared file: {shared_file(tmp_path, redis_url, 2000, 1000, 256 * 1024)}")
