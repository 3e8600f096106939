"""A real prefork worker process (2 children, queue-mode logging) over the embedded broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

import agent_tracing as at
from tests.conftest import ROOT, json_lines
from tests.integrations.celery_support import instrumented, isolated_app, wait_for

TASKS = 200


@dataclass
class PreforkWorker:
    """The worker process, its JSON log file and an app that publishes to its queue."""

    process: subprocess.Popen[bytes]
    log_file: Path
    app: Celery

    def lines(self) -> list[dict[str, Any]]:
        """The JSON lines the worker (main process and children) has written so far."""
        return json_lines(self.log_file) if self.log_file.exists() else []


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # warm shutdown: children exit, lines flushed
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def prefork(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreforkWorker]:
    """``celery -A app.worker worker -P prefork -c 2`` with logging in queue mode to a file;
    children are replaced every 60 tasks, so lines must survive a child's exit."""
    folder = tmp_path_factory.mktemp("prefork")
    log_file = folder / "worker.jsonl"
    with instrumented():
        app = isolated_app(None, None, folder / "celery")
        queue = app.conf.task_default_queue
        env = {
            **os.environ,
            "CELERY_DATA_DIR": str(folder / "celery"),
            "AGENT_TRACING_JSON_OUTPUT": str(log_file),
            "AGENT_TRACING_CONSOLE": "0",
            "AGENT_TRACING_QUEUE": "1",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("CELERY_BROKER_URL", None)
        env.pop("CELERY_RESULT_BACKEND", None)
        command = [
            sys.executable, "-m", "celery", "-A", "app.worker", "worker",
            "-P", "prefork", "-c", "2", "-Q", queue, "-n", f"prefork-{uuid.uuid4().hex[:8]}@%h",
            "-l", "INFO", "--max-tasks-per-child", "60",
            "--without-heartbeat", "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            yield PreforkWorker(process, log_file, app)
        finally:
            _stop(process)


def test_200_tasks_on_two_children_never_share_context(prefork: PreforkWorker) -> None:
    """Half the tasks carry a context and half none: no task's lines carry another's context,
    and every line of every run reaches the file although children exit every 60 tasks."""
    probe = prefork.app.tasks["examples.context"]
    results = {}
    for index in range(TASKS):
        if index % 2:
            results[index] = probe.delay(index)
        else:
            with at.bind(correlation_id=f"cid-{index}", user_id=f"user-{index}"):
                results[index] = probe.delay(index)
    seen = {index: result.get(timeout=60) for index, result in results.items()}
    ids = {result.id: index for index, result in results.items()}

    def all_ended() -> list[dict[str, Any]] | None:
        lines = prefork.lines()
        ended = {
            (line["data"] or {}).get("task_id") for line in lines if line["event"] == "task.end"
        }
        return lines if set(ids) <= ended else None

    lines = wait_for(all_ended, timeout=30, interval=0.2)
    starts = {
        line["data"]["task_id"]: line
        for line in lines
        if line["event"] == "task.start" and line["data"]["task_id"] in ids
    }
    assert len(starts) == TASKS
    span_owner = {line["span_id"]: ids[task_id] for task_id, line in starts.items()}
    by_task: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        if line["span_id"] in span_owner:
            by_task[span_owner[line["span_id"]]].append(line)
    fresh_ids = set()
    for index in range(TASKS):
        task_lines = by_task[index]
        assert [line["event"] for line in task_lines] == [
            "task.start", None, "task.end",
        ]  # fmt: skip
        assert {line["logger"] for line in task_lines} == {
            "agent_tracing.celery", "app.tasks.examples",
        }  # fmt: skip
        cids = {line["correlation_id"] for line in task_lines}
        users = {line["user_id"] for line in task_lines}
        assert len(cids) == 1
        if index % 2:
            assert users == {None}
            assert task_lines[0]["data"]["context"] == "new"
            fresh_ids |= cids
        else:
            assert (cids, users) == ({f"cid-{index}"}, {f"user-{index}"})
        assert seen[index]["correlation_id"] in cids
        assert seen[index]["tag"] == index
    assert len(fresh_ids) == TASKS // 2  # every context-less task got its own new id
    assert not fresh_ids & {f"cid-{index}" for index in range(0, TASKS, 2)}
    children = {seen[index]["pid"] for index in range(TASKS)}
    assert len(children) >= 3  # two children, replaced after 60 tasks each


def test_a_child_lost_mid_task_is_logged_with_the_task(prefork: PreforkWorker) -> None:
    """A pool child killed mid-task: the main process logs task.worker_lost with the task's id,
    name and the publisher's context."""
    with at.bind(correlation_id="cid-crash", user_id="user-crash"):
        result = prefork.app.tasks["examples.crash"].delay()

    def lost() -> list[dict[str, Any]]:
        return [line for line in prefork.lines() if line["event"] == "task.worker_lost"]

    line = wait_for(lost, timeout=30, interval=0.2)[0]
    assert (line["correlation_id"], line["user_id"], line["level"]) == (
        "cid-crash",
        "user-crash",
        "ERROR",
    )
    assert line["data"] == {"task": "examples.crash", "task_id": result.id}
    assert "WorkerLostError" in line["exception"]["type"]
    warned = [
        item
        for item in prefork.lines()
        if item["message"] == "Crashing the pool process" and item["correlation_id"] == "cid-crash"
    ]
    assert len(warned) == 1  # the child's own line, flushed before it died
