"""Celery edge cases: a run ended by a BaseException, and a publish the broker refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from kombu.exceptions import OperationalError

import agent_tracing as at
from agent_tracing.testing import CapturedEvents
from tests.conftest import ROOT, json_lines, require_service
from tests.integrations.celery_support import instrumented, isolated_app, wait_for

REDIS = "redis://127.0.0.1:6379/0"


@dataclass
class Worker:
    """A prefork worker process with this module's tasks, its JSON log file, a publishing app."""

    process: subprocess.Popen[bytes]
    log_file: Path
    app: Celery

    def lines_of(self, task_id: str) -> list[dict[str, Any]]:
        """The worker's lines about ``task_id`` (by data.task_id)."""
        lines = json_lines(self.log_file) if self.log_file.exists() else []
        return [line for line in lines if (line["data"] or {}).get("task_id") == task_id]


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """``celery -A app.worker worker -P prefork -c 1`` over Redis, including the interrupting
    tasks; a child that exits is replaced."""
    require_service("Redis", "127.0.0.1", 6379)
    folder = tmp_path_factory.mktemp("interrupts")
    log_file = folder / "worker.jsonl"
    with instrumented():
        app = isolated_app(REDIS, REDIS, folder / "celery")
        env = {
            **os.environ,
            "CELERY_BROKER_URL": REDIS,
            "CELERY_RESULT_BACKEND": REDIS,
            "CELERY_DATA_DIR": str(folder / "celery"),
            "AGENT_TRACING_JSON_OUTPUT": str(log_file),
            "AGENT_TRACING_CONSOLE": "0",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("AGENT_TRACING_QUEUE", None)
        command = [
            sys.executable, "-m", "celery", "-A", "app.worker", "worker",
            "-P", "prefork", "-c", "1", "-Q", app.conf.task_default_queue,
            "-n", f"interrupts-{uuid.uuid4().hex[:8]}@%h", "-l", "INFO",
            "--include", "tests.integrations.celery_interrupt_tasks",
            "--without-heartbeat", "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            yield Worker(process, log_file, app)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def _run(worker: Worker, name: str, until: str) -> list[dict[str, Any]]:
    """Publish ``name`` and return its lines once one ``until`` event was logged."""
    with at.bind(correlation_id=f"cid-{uuid.uuid4().hex[:8]}"):
        task_id = worker.app.send_task(name).id

    def logged() -> list[dict[str, Any]] | None:
        lines = worker.lines_of(task_id)
        return lines if any(line["event"] == until for line in lines) else None

    return list(wait_for(logged, timeout=60, interval=0.2))


@pytest.mark.parametrize(
    ("name", "error_type"),
    [
        ("interrupts.exit", "SystemExit"),
        ("interrupts.keyboard", "KeyboardInterrupt"),
        ("interrupts.sigterm_handled", "SystemExit"),
    ],
)
def test_a_run_ended_by_a_base_exception_is_logged_as_interrupted(
    worker: Worker, name: str, error_type: str
) -> None:
    """SystemExit / KeyboardInterrupt out of a task (or SIGTERM turned into SystemExit): an
    ERROR task.failed with status interrupted and the type, and a task.end with status error."""
    lines = _run(worker, name, "task.end")
    (failed,) = [line for line in lines if line["event"] == "task.failed"]
    (end,) = [line for line in lines if line["event"] == "task.end"]
    assert ("ERROR", "interrupted", error_type) == (
        failed["level"],
        failed["data"]["status"],
        failed["data"]["error_type"],
    )
    assert error_type in failed["exception"]["type"]
    assert ("ERROR", "error", error_type) == (
        end["level"],
        end["data"]["status"],
        end["data"]["error_type"],
    )
    assert "succeeded" not in end["message"]
    assert failed["correlation_id"] == end["correlation_id"]


def test_a_child_killed_by_sigterm_is_never_logged_as_succeeded(worker: Worker) -> None:
    """SIGTERM with the default disposition kills the child: the main process logs
    task.worker_lost and no line says the run succeeded."""
    lines = _run(worker, "interrupts.sigterm", "task.worker_lost")
    assert [line for line in lines if (line["data"] or {}).get("status") == "ok"] == []


# -- publishing ------------------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_publish_is_logged_as_failed_never_as_published(
    tmp_path: Path, log_events: CapturedEvents
) -> None:
    """apply_async to a broker that refuses connections: one ERROR task.publish_failed with the
    error and the task, and no task.published line."""
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    with instrumented():
        app = isolated_app(
            url,
            "cache+memory://",
            tmp_path,
            broker_connection_retry=False,
            broker_connection_max_retries=0,
            broker_connection_timeout=1,
            task_publish_retry=False,
        )
        with at.bind(correlation_id="cid-publish"), pytest.raises(OperationalError):
            app.tasks["examples.add"].apply_async((1, 2), task_id="task-refused")
    assert log_events.by_event("task.published") == []
    (failed,) = log_events.by_event("task.publish_failed")
    assert (failed["level"], failed["correlation_id"]) == ("ERROR", "cid-publish")
    assert {key: failed["data"][key] for key in ("task", "task_id")} == {
        "task": "examples.add",
        "task_id": "task-refused",
    }
    assert "OperationalError" in failed["exception"]["type"]


def test_a_successful_publish_is_logged_once(tmp_path: Path, log_events: CapturedEvents) -> None:
    """A publish the broker took: one task.published line, no failure line."""
    require_service("Redis", "127.0.0.1", 6379)
    with instrumented():
        app = isolated_app(REDIS, "cache+memory://", tmp_path)
        result = app.tasks["examples.add"].apply_async((1, 2))
    (published,) = log_events.by_event("task.published")
    assert result.id == published["data"]["task_id"]
    assert log_events.by_event("task.publish_failed") == []
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(app.conf.task_default_queue)


def test_an_eager_run_ended_by_system_exit_is_interrupted(
    tmp_path: Path, log_events: CapturedEvents
) -> None:
    """An eager run (apply) that raises SystemExit: task.failed interrupted, task.end error."""
    with instrumented():
        app = isolated_app(None, None, tmp_path)

        @app.task(name="interrupts.eager_exit")
        def eager_exit() -> None:
            raise SystemExit(2)

        with pytest.raises(SystemExit):
            eager_exit.apply(throw=True)
    (failed,) = log_events.by_event("task.failed")
    (end,) = log_events.by_event("task.end")
    assert (failed["data"]["status"], failed["data"]["error_type"]) == ("interrupted", "SystemExit")
    assert (end["level"], end["data"]["status"]) == ("ERROR", "error")


def test_send_task_is_wrapped_only_while_instrumented() -> None:
    """instrument_celery wraps Celery.send_task once; uninstrument_celery restores the original."""
    with instrumented():
        wrapped = Celery.send_task
        assert wrapped.__wrapped__ is not None  # type: ignore[attr-defined]
    original = Celery.send_task
    assert not hasattr(original, "__wrapped__")
    assert original is wrapped.__wrapped__  # type: ignore[attr-defined]
