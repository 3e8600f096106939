"""Queue mode beside synchronous mode, in one run: the caller's cost and the sustained throughput.

Every case logs ``bench_core``'s line (5 context fields, a small ``data`` dict) to a real file.
For each mode it prints the median, over interleaved rounds, of the caller's µs per call (the
time until the last call returns) and of the lines per second until every line is in the file
(queue mode: until the listener has written the last one). A last case logs into a stalled sink
(a handler that never returns) with ``queue_timeout=0`` and reports the memory the process
grew by and the counters: the queue holds at most ``queue_size`` records, the rest are dropped.
"""

from __future__ import annotations

import contextvars
import logging
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable

import bench_core

import agent_tracing as at
from agent_tracing import config

CALLS = bench_core.CALLS
REPEATS = bench_core.REPEATS


def one_round(queue_mode: bool) -> tuple[float, float]:
    """(caller µs per call, lines per second until written) for one batch of CALLS calls."""
    call = bench_core.ours(queue_mode=queue_mode)
    try:
        for i in range(min(CALLS, 1000)):  # warm up
            call(i)
        at.flush_logging()
        start = time.perf_counter_ns()
        for i in range(CALLS):
            call(i)
        returned = time.perf_counter_ns()
        at.flush_logging()
        written = time.perf_counter_ns()
    finally:
        bench_core._reset_logging()
    return (returned - start) / CALLS / 1000, CALLS / ((written - start) / 1e9)


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2


def stalled_sink(lines: int = 200_000) -> tuple[float, at.QueueStats | None]:
    """MB the process grew by logging ``lines`` lines into a sink that never returns."""
    gate = threading.Event()

    class Stuck(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            gate.wait()

    bench_core._reset_logging()
    at.configure_logging(
        console=False,
        json_output=os.path.join(bench_core.TMP, "stalled.jsonl"),
        queue_mode=True,
        **({"queue_timeout": 0} if hasattr(at, "queue_stats") else {}),  # type: ignore[arg-type]
    )
    listener = config._State.listener
    assert listener is not None
    listener.handlers = (Stuck(), *listener.handlers)
    log = at.get_logger("bench.stalled")
    before = _resident_mb()
    for i in range(lines):
        log.info("Backtest started", data={"trade_id": i, "order": f"ord-{i}"})
    grown = _resident_mb() - before
    stats = at.queue_stats() if hasattr(at, "queue_stats") else None
    gate.set()
    bench_core._reset_logging()
    return grown, stats


def main() -> None:
    # First, while the process is small: memory freed later would be reused, not grown.
    grown, stats = contextvars.copy_context().run(stalled_sink)
    samples: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for repeat in range(REPEATS + 1):
        for queue_mode in (False, True):
            run: Callable[[], tuple[float, float]] = lambda q=queue_mode: one_round(q)  # noqa: E731
            value = contextvars.copy_context().run(run)
            if repeat:  # the first round only warms up
                samples[queue_mode].append(value)
    caller = {mode: statistics.median(v[0] for v in values) for mode, values in samples.items()}
    rate = {mode: statistics.median(v[1] for v in values) for mode, values in samples.items()}
    print(
        f"\nqueue mode vs synchronous: median over {REPEATS} interleaved rounds of {CALLS} calls, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print("| case | sync | queue | queue / sync |")
    print("|---|---|---|---|")
    print(
        f"| caller's µs per call | {caller[False]:.2f} | {caller[True]:.2f} | "
        f"{caller[True] / caller[False]:.2f} |"
    )
    print(
        f"| lines/s until written | {rate[False]:,.0f} | {rate[True]:,.0f} | "
        f"{rate[True] / rate[False]:.2f} |"
    )
    counters = (
        "no counters"
        if stats is None
        else f"accepted {stats.accepted}, dropped {stats.dropped}, "
        f"high-water {stats.high_water} (bound {stats.size})"
    )
    print(f"\nstalled sink, 200000 lines, queue_timeout=0: process grew {grown:.1f} MB; {counters}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
