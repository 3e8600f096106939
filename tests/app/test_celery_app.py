"""The GenTrade Celery app: factory settings, the embedded broker's transport, AsyncTask."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from kombu import Connection

import agent_tracing as at
from agent_tracing.celery import uninstrument_celery
from app.celery import AsyncTask, create_celery_app
from app.celery.broker import TRANSPORT, transport_options
from app.celery.celery_async import run_coroutine


@pytest.fixture
def fresh() -> Iterator[None]:
    """No instrumentation and no broker settings from the environment around the test."""
    uninstrument_celery()
    saved = {
        k: os.environ.pop(k)
        for k in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
        if k in os.environ
    }
    yield
    os.environ.update(saved)
    uninstrument_celery()


def test_default_app_uses_the_embedded_broker_and_file_results(fresh: None, tmp_path: Path) -> None:
    """Without CELERY_BROKER_URL: the atomic filesystem transport and file results in data_dir."""
    app = create_celery_app(data_dir=str(tmp_path))
    assert app.conf.broker_url == "filesystem://localhost//"
    assert app.conf.broker_transport == TRANSPORT
    assert app.conf.result_backend == f"file://{tmp_path}/results"
    options = app.conf.broker_transport_options
    assert options["data_folder_in"] == options["data_folder_out"] == f"{tmp_path}/broker/queue"
    assert Path(options["data_folder_in"]).is_dir()
    assert app.conf.worker_hijack_root_logger is False


def test_environment_selects_redis_and_its_result_backend(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CELERY_BROKER_URL=redis://... uses Redis, and Redis for results unless told otherwise."""
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    app = create_celery_app(data_dir=str(tmp_path))
    assert (app.conf.broker_url, app.conf.result_backend) == (
        "redis://127.0.0.1:6379/3",
        "redis://127.0.0.1:6379/3",
    )
    assert app.conf.broker_transport is None
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "rpc://")
    assert create_celery_app(data_dir=str(tmp_path)).conf.result_backend == "rpc://"


def test_the_factory_instruments_the_process(fresh: None, tmp_path: Path) -> None:
    """Creating the app turns the instrumentation on."""
    from agent_tracing.celery import is_instrumented

    create_celery_app(data_dir=str(tmp_path))
    assert is_instrumented()


def _connection(folder: Path) -> Connection:
    return Connection(
        "filesystem://localhost//",
        transport=TRANSPORT,
        transport_options=transport_options(str(folder), polling_interval=0.01),
    )


def test_two_consumers_never_take_the_same_message(tmp_path: Path) -> None:
    """Under concurrent writers and readers, each of 600 messages is read exactly once and
    whole (no torn file, no double delivery)."""
    total = 600
    with _connection(tmp_path) as connection:
        queue = connection.SimpleQueue("burst")

        def write(start: int) -> None:
            with _connection(tmp_path) as writer:
                q = writer.SimpleQueue("burst")
                for index in range(start, total, 3):
                    q.put({"n": index, "pad": "x" * 2000})
                q.close()

        received: list[int] = []
        lock = threading.Lock()

        def read() -> None:
            with _connection(tmp_path) as reader:
                q = reader.SimpleQueue("burst")
                while True:
                    try:
                        message = q.get(timeout=2)
                    except q.Empty:
                        break
                    message.ack()
                    with lock:
                        received.append(message.payload["n"])
                q.close()

        threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
        threads += [threading.Thread(target=read) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        queue.close()
    assert sorted(received) == list(range(total))
    leftovers = os.listdir(tmp_path / "queue")
    assert leftovers == []


def test_async_task_called_directly_runs_its_coroutine() -> None:
    """Called outside a worker, an AsyncTask runs its coroutine and sees its own request."""
    app = Celery("async-direct")

    @app.task(base=AsyncTask, bind=True, name="async.direct")
    async def direct(self: Any, x: int) -> tuple[int, Any]:
        await asyncio.sleep(0)
        return x * 2, self.request.args

    assert direct(21) == (42, (21,))


def test_run_coroutine_keeps_context_and_leaks_nothing() -> None:
    """The coroutine sees the caller's context; what it binds stays inside."""

    async def body() -> Any:
        at.bind_contextvars(user_id="inside")
        return at.current_context()

    with at.bind(correlation_id="cid-async"):
        seen = run_coroutine(body())
        assert at.current_context() == {"correlation_id": "cid-async"}
    assert seen == {"correlation_id": "cid-async", "user_id": "inside"}


def test_run_coroutine_inside_a_running_loop() -> None:
    """Called from async code (an eager task in an async caller), it still runs the coroutine."""

    async def inner() -> Any:
        return at.current_context()

    async def outer() -> Any:
        with at.bind(correlation_id="cid-nested"):
            return run_coroutine(inner())

    assert asyncio.run(outer()) == {"correlation_id": "cid-nested"}


def test_default_queue_from_the_environment(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CELERY_TASK_DEFAULT_QUEUE gives publisher and worker a queue of their own."""
    monkeypatch.setenv("CELERY_TASK_DEFAULT_QUEUE", "gentrade-e2e")
    assert create_celery_app(data_dir=str(tmp_path)).conf.task_default_queue == "gentrade-e2e"
