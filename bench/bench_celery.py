"""Celery benchmark: worker throughput of a trivial task on Redis, instrumented vs plain.

Both workers log to a JSON file through ``configure_logging`` (Celery's own "received" and
"succeeded" lines in the schema); the instrumented one also runs every task as a span with its
lifecycle lines and the context restored from the headers. Each round pre-loads a fresh Redis
queue with TASKS messages (published inside a bound context), starts a worker process (solo pool)
on it, and measures the drain rate from the worker's own log timestamps (first "received" to last
"succeeded"), so start-up and shutdown are not counted. Rounds alternate between the variants, so
noise on the shared machine hits both alike. Needs Redis on 127.0.0.1:6379.

This file is also the worker's app module (``celery -A bench_celery``): ``BENCH_CELERY_MODE``
selects the variant in the worker process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from celery import Celery, signals

import agent_tracing as at
from agent_tracing.celery import instrument_celery, uninstrument_celery

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TASKS = int(os.environ.get("BENCH_CELERY_TASKS", "1000"))
ROUNDS = int(os.environ.get("BENCH_CELERY_ROUNDS", "3"))
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

app = Celery("bench_celery", broker=REDIS_URL)
app.conf.update(
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
)


@app.task(name="bench.noop")
def noop(n: int) -> None:
    """The trivial task."""


def _worker_logging(**_: Any) -> None:
    at.configure_logging(console=False, json_output=os.environ["BENCH_CELERY_LOG"], level="INFO")


_MODE = os.environ.get("BENCH_CELERY_MODE")
if _MODE == "instrumented":
    instrument_celery(
        app,
        logging_options={
            "console": False,
            "json_output": os.environ["BENCH_CELERY_LOG"],
            "level": "INFO",
        },
    )
elif _MODE == "plain":
    signals.setup_logging.connect(_worker_logging, weak=False)


def _timestamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def one_round(mode: str, folder: Path) -> float:
    """Tasks per second drained by a ``mode`` worker from a pre-loaded queue."""
    queue = f"bench-celery-{uuid.uuid4().hex[:10]}"
    log_file = folder / f"{mode}-{queue}.jsonl"
    uninstrument_celery()
    if mode == "instrumented":
        instrument_celery(app, worker_logging=False)
    with at.bind(correlation_id=at.new_correlation_id(), user_id="user_bench"):
        with app.producer_or_acquire() as producer:
            for n in range(TASKS):
                noop.apply_async((n,), queue=queue, producer=producer)
    uninstrument_celery()
    env = {
        **os.environ,
        "BENCH_CELERY_MODE": mode,
        "BENCH_CELERY_LOG": str(log_file),
        "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "bench_celery", "worker", "-P", "solo",
        "-Q", queue, "-n", f"{queue}@%h", "-l", "INFO",
        "--without-heartbeat", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            lines = _lines(log_file)
            done = [
                line
                for line in lines
                if line["logger"] == "celery.app.trace" and " succeeded in " in line["message"]
            ]
            if len(done) >= TASKS:
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{mode} worker drained {len(done)} of {TASKS} tasks")
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)
    received = [
        _timestamp(line["timestamp"])
        for line in lines
        if line["logger"] == "celery.worker.strategy" and line["message"].endswith(" received")
    ]
    finished = [_timestamp(line["timestamp"]) for line in done]
    if mode == "instrumented":  # the variant must really be instrumented
        assert sum(1 for line in lines if line["event"] == "task.end") == TASKS
        assert all(line["user_id"] == "user_bench" for line in done)
    else:
        assert not any(line["event"] for line in lines)
    return (TASKS - 1) / (max(finished) - min(received))


def main() -> int:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        print("Redis is not reachable on 127.0.0.1:6379: the Celery benchmark needs it")
        return 1
    folder = Path(tempfile.mkdtemp(prefix="at-bench-celery-"))
    samples: dict[str, list[float]] = {"plain": [], "instrumented": []}
    for _ in range(ROUNDS):
        for mode, values in samples.items():
            values.append(one_round(mode, folder))
    plain = statistics.median(samples["plain"])
    traced = statistics.median(samples["instrumented"])
    print(
        f"\ncelery worker throughput on Redis: median tasks/s over {ROUNDS} alternating rounds of "
        f"{TASKS} trivial tasks (solo pool, JSON log file), {time.strftime('%Y-%m-%d')}"
    )
    print("| case | ours tasks/s | anchor | anchor tasks/s | ours / anchor |")
    print("|---|---|---|---|---|")
    print(
        f"| trivial task, worker logging to JSON | {traced:.0f} | plain worker (same logging, "
        f"no instrumentation) | {plain:.0f} | {traced / plain:.2f} |"
    )
    rounds = ", ".join(
        f"{p:.0f}/{t:.0f}" for p, t in zip(samples["plain"], samples["instrumented"], strict=True)
    )
    print(f"\nrounds (plain/instrumented tasks/s): {rounds}")
    print(f"instrumented / plain: {traced / plain:.2f} (target >= 0.95)")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
