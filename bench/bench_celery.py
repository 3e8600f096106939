"""Celery benchmark: worker throughput of a trivial task on Redis, instrumented vs plain.

Both workers log to a JSON file through ``configure_logging`` (Celery's own "received" line in
the schema); the plain one also writes Celery's "succeeded" line, the instrumented one runs every
task as a span with its lifecycle lines (``task.end`` is the success record, Celery's "succeeded"
line is not written) and the context restored from the headers. Each round starts a worker
process (solo pool) on a fresh Redis queue, waits until it is ready, publishes TASKS messages
inside a bound context, and measures two rates: tasks per CPU second of the worker process (from
``/proc``; the figure a busy shared machine disturbs least) and tasks per wall second from the
worker's own log timestamps (first "received" to the last success record). Start-up and
shutdown are not counted. Rounds alternate between the variants, so noise on the shared machine
hits all alike.
The third variant is instrumented with ``TaskLogOptions(log_start=False)``: one lifecycle line
per task instead of two. Needs Redis on 127.0.0.1:6379.

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
from agent_tracing.celery import TaskLogOptions, instrument_celery, uninstrument_celery

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TASKS = int(os.environ.get("BENCH_CELERY_TASKS", "600"))
ROUNDS = int(os.environ.get("BENCH_CELERY_ROUNDS", "5"))
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
if _MODE in ("instrumented", "one line"):
    instrument_celery(
        app,
        options=TaskLogOptions(log_start=_MODE == "instrumented"),
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
    raw = path.read_bytes()
    # The worker may be writing the last line right now: only whole lines (ending in \n) count.
    complete = raw[: raw.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_lines(
    path: Path, process: subprocess.Popen[bytes], done: Any, what: str
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 120
    while True:
        lines = _lines(path)
        if done(lines):
            return lines
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"worker did not get to: {what}")
        time.sleep(0.1)


def _succeeded(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each task's success record: ``task.end`` when instrumented, else Celery's own line."""
    return [
        line
        for line in lines
        if line["event"] == "task.end"
        or (line["logger"] == "celery.app.trace" and " succeeded in " in line["message"])
    ]


def one_round(mode: str, folder: Path) -> tuple[float, float]:
    """(tasks per worker CPU second, tasks per wall second) of a ``mode`` worker."""
    queue = f"bench-celery-{uuid.uuid4().hex[:10]}"
    log_file = folder / f"{mode}-{queue}.jsonl"
    env = {
        **os.environ,
        "BENCH_CELERY_MODE": mode,
        "BENCH_CELERY_LOG": str(log_file),
        "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}",
    }
    profile = os.environ.get("BENCH_CELERY_PROFILE")  # a cProfile output path, to look inside
    command = [
        sys.executable, *(["-m", "cProfile", "-o", f"{profile}.{mode}"] if profile else []),
        "-m", "celery", "-A", "bench_celery", "worker", "-P", "solo",
        "-Q", queue, "-n", f"{queue}@%h", "-l", "INFO",
        "--without-heartbeat", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_lines(
            log_file,
            process,
            lambda lines: any(line["message"].endswith(" ready.") for line in lines),
            "ready",
        )
        time.sleep(0.3)  # let start-up work settle before the CPU clock is read
        cpu_before = _cpu_seconds(process.pid)
        uninstrument_celery()
        if mode != "plain":
            instrument_celery(app, worker_logging=False)
        with at.bind(correlation_id=at.new_correlation_id(), user_id="user_bench"):
            with app.producer_or_acquire() as producer:
                for n in range(TASKS):
                    noop.apply_async((n,), queue=queue, producer=producer)
        uninstrument_celery()
        lines = _wait_lines(
            log_file, process, lambda lines: len(_succeeded(lines)) >= TASKS, f"{TASKS} tasks"
        )
        cpu = _cpu_seconds(process.pid) - cpu_before
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)
    done = _succeeded(lines)
    received = [
        _timestamp(line["timestamp"])
        for line in lines
        if line["logger"] == "celery.worker.strategy" and line["message"].endswith(" received")
    ]
    if mode != "plain":  # the variant must really be instrumented
        assert sum(1 for line in lines if line["event"] == "task.end") == TASKS
        assert all(line["user_id"] == "user_bench" for line in done)
        assert not any(line["logger"] == "celery.app.trace" for line in lines)
    else:
        assert not any(line["event"] for line in lines)
    wall = max(_timestamp(line["timestamp"]) for line in done) - min(received)
    return TASKS / cpu, (TASKS - 1) / wall


def main() -> int:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        print("Redis is not reachable on 127.0.0.1:6379: the Celery benchmark needs it")
        return 1
    folder = Path(tempfile.mkdtemp(prefix="at-bench-celery-"))
    samples: dict[str, list[tuple[float, float]]] = {
        "plain": [],
        "instrumented": [],
        "one line": [],
    }
    for _ in range(ROUNDS):
        for mode, values in samples.items():
            values.append(one_round(mode, folder))
    cpu = {mode: statistics.median(v[0] for v in values) for mode, values in samples.items()}
    wall = {mode: statistics.median(v[1] for v in values) for mode, values in samples.items()}
    print(
        f"\ncelery worker throughput on Redis: median over {ROUNDS} alternating rounds of "
        f"{TASKS} trivial tasks (solo pool, JSON log file), {time.strftime('%Y-%m-%d')}"
    )
    print("| case | ours | anchor | anchor | ours / anchor |")
    print("|---|---|---|---|---|")
    anchor = "plain worker (same JSON logging, no instrumentation)"
    for mode, label in (("instrumented", "default"), ("one line", "log_start=False")):
        for name, rate in (("tasks per worker CPU second", cpu), ("tasks per wall second", wall)):
            print(
                f"| {name}, {label} | {rate[mode]:.0f} | {anchor} | {rate['plain']:.0f} | "
                f"{rate[mode] / rate['plain']:.2f} |"
            )
    for mode, values in samples.items():
        rounds = ", ".join(f"{value[0]:.0f}" for value in values)
        print(f"\nrounds, {mode}, tasks per CPU second: {rounds}", end="")
    # Each round's ratio pairs runs minutes apart at most: a slow drift of the machine's load
    # cancels out of it better than out of the ratio of medians.
    paired = {
        mode: statistics.median(
            value[0] / plain[0] for value, plain in zip(values, samples["plain"], strict=True)
        )
        for mode, values in samples.items()
    }
    print(
        f"\ninstrumented / plain per CPU second: {cpu['instrumented'] / cpu['plain']:.2f} "
        f"(median of per-round ratios {paired['instrumented']:.2f}); one line per task: "
        f"{cpu['one line'] / cpu['plain']:.2f} ({paired['one line']:.2f}); target >= 0.95"
    )
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
