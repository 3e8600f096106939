"""Helpers shared by the Celery tests: apps on isolated queues, embedded workers, waiting."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery import Celery
from celery.contrib.testing.worker import start_worker

import app.tasks.examples  # noqa: F401  (registers the shared tasks for apps without a worker)
from agent_tracing.celery import TaskLogOptions, instrument_celery, uninstrument_celery
from agent_tracing.testing import CapturedEvents
from app.celery.factory import create_celery_app

#: Worker start-up configures logging through ``setup_logging``; the tests read lines through the
#: ``log_events`` fixture, so the worker installs no view of its own.
QUIET_LOGGING = {"console": False, "json": False}


@contextmanager
def instrumented(options: TaskLogOptions | None = None) -> Iterator[None]:
    """Instrument the process with quiet worker logging; restore the previous state after."""
    uninstrument_celery()
    instrument_celery(logging_options=QUIET_LOGGING, options=options)
    try:
        yield
    finally:
        uninstrument_celery()


def isolated_app(
    broker_url: str | None, result_backend: str | None, data_dir: Path, **settings: Any
) -> Celery:
    """An app on its own queue and control exchange, so workers of other apps on the same
    Redis or RabbitMQ never take its messages."""
    tag = uuid.uuid4().hex[:10]
    return create_celery_app(
        f"test-{tag}",
        broker_url=broker_url,
        result_backend=result_backend,
        data_dir=str(data_dir),
        task_default_queue=f"at-test-{tag}",
        control_exchange=f"at-test-{tag}",
        event_exchange=f"at-test-ev-{tag}",
        result_chord_join_timeout=10.0,
        **settings,
    )


@contextmanager
def thread_worker(app: Celery) -> Iterator[Any]:
    """A real worker consuming ``app``'s queue in a thread of this process (solo pool)."""
    with start_worker(
        app,
        pool="solo",
        perform_ping_check=False,
        loglevel="INFO",
        shutdown_timeout=20.0,
        without_heartbeat=True,
    ) as worker:
        yield worker
    # Leave no test queue behind on a shared RabbitMQ (Redis drops an empty list by itself).
    try:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(app.conf.task_default_queue)
    except Exception:
        pass


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def lines_of(events: CapturedEvents, correlation_id: str) -> list[dict[str, Any]]:
    """The captured lines carrying ``correlation_id``."""
    return [line for line in events.raw if line["correlation_id"] == correlation_id]


def task_events(
    events: CapturedEvents, name: str, task_id: str | None = None
) -> list[dict[str, Any]]:
    """Lifecycle lines ``name`` (e.g. ``task.end``), optionally of one task id."""
    return [
        line
        for line in events.by_event(name)
        if task_id is None or (line["data"] or {}).get("task_id") == task_id
    ]


def wait_for_end(events: CapturedEvents, task_id: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait until ``count`` ``task.end`` lines of ``task_id`` were logged (postrun runs after the
    result is stored, so a caller's ``get()`` can return first)."""

    def ended() -> list[dict[str, Any]] | None:
        found = task_events(events, "task.end", task_id)
        return found if len(found) >= count else None

    return list(wait_for(ended))


#: What Celery's tracer (``celery.app.trace``) says of a run's outcome: success, retry, failure,
#: ignored. The lifecycle lines say the same, so by default none of these is written.
CELERY_OUTCOMES = (" succeeded in ", " retry: ", " raised unexpected: ", " raised expected: ")


def celery_outcome_lines(events: CapturedEvents, task_id: str) -> list[dict[str, Any]]:
    """Celery's own outcome lines (logger ``celery.app.trace``) of ``task_id``."""
    return [
        line
        for line in events.raw
        if line["logger"] == "celery.app.trace"
        and f"[{task_id}]" in line["message"]
        and any(outcome in line["message"] for outcome in CELERY_OUTCOMES)
    ]


def received_lines(events: CapturedEvents, task_id: str) -> list[dict[str, Any]]:
    """Celery's "Task X[id] received" lines of ``task_id`` (they always stay)."""
    return [
        line
        for line in events.raw
        if line["logger"] == "celery.worker.strategy"
        and line["message"].endswith(f"[{task_id}] received")
    ]
