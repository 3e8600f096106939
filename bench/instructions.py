"""Instructions per core log call (callgrind), ours beside the anchors, in one run.

Wall-clock figures on a small shared machine move by 30% between runs; instruction counts do
not. Each case of ``bench_core.py`` is run under ``valgrind --tool=callgrind`` for N and 2N calls,
and the difference divided by N is its cost per call (start-up cancels out). The kernel's share
(the ``write`` of each line) is not counted, for ours and the anchors alike.

Queue mode's cases count the caller's thread only (``--separate-threads``): what a log call
costs the code that makes it, while the listener thread writes the lines in the background
(the caller's count then includes its share of the switches between the two threads), and with
the listener paused (the record's copy and the put alone); and the listener's thread alone.

Usage: ``python bench/instructions.py [N]`` (valgrind from Debian's package must be installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = {
    "floor (hand-written writer)": "floor()",
    "ours": "ours()",
    "ours queue mode (caller's thread)": "ours(queue_mode=True)",
    "ours queue mode (listener's thread)": "ours(queue_mode=True); LISTENER",
    "ours queue mode (caller alone, listener paused)": "ours(queue_mode=True); PAUSE",
    "seed design (stdlib + python-json-logger)": "seed()",
    "structlog native": "structlog_native()",
    "floor, 8.7k-character prompt in data": "floor_prompt()",
    "ours, 8.7k-character prompt in data": "ours_prompt()",
}
# The file handlers look at their path at most every 10 ms of the clock; under valgrind a call
# takes 50 times longer, so that clock is made to advance 10 µs per look (a look every ~1000
# calls, as at full speed) to count what a real run executes.
RUNNER = """
import itertools, sys
sys.path.insert(0, {here!r})
import agent_tracing.handlers as handlers
tick = itertools.count()
handlers._monotonic = lambda: next(tick) * 1e-5
import bench_core
call = bench_core.{factory}
for i in range({calls}):
    call(i)
bench_core._reset_logging()
"""

# Stops queue mode's listener: the records stay queued (fewer than the queue holds).
PAUSE = "import agent_tracing.config as config; config._State.listener.stop()\n"


def instructions(factory: str, calls: int) -> int:
    """Instructions callgrind counts for a process making ``calls`` calls of one case (in queue
    mode: its main thread's only, the one making the calls)."""
    caller_only = "queue_mode=True" in factory
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/cg.out",
                f"--separate-threads={'yes' if caller_only else 'no'}",
                sys.executable,
                "-c",
                RUNNER.format(
                    here=str(HERE), factory=factory.split(";", maxsplit=1)[0], calls=calls
                ).replace("for i in", PAUSE + "for i in" if "; PAUSE" in factory else "for i in"),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        if caller_only:
            # One file per thread; thread 1 is the main thread, the caller, 2 the listener.
            thread = "02" if "; LISTENER" in factory else "01"
            text = Path(f"{tmp}/cg.out-{thread}").read_text()
            totals = re.search(r"^totals: (\d+)", text, re.M)
            if totals is None:
                raise RuntimeError("no totals in callgrind's file of the main thread")
            return int(totals.group(1))
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    per_call = {
        name: (instructions(factory, 2 * calls) - instructions(factory, calls)) / calls
        for name, factory in CASES.items()
    }
    ours = per_call["ours"]
    floor = per_call["floor (hand-written writer)"]
    print(f"\ncore log call: instructions per call (callgrind, {calls} and {2 * calls} calls)")
    print("| case | instructions | ours / case | case / floor |")
    print("|---|---|---|---|")
    for name, count in per_call.items():
        if "prompt" in name:
            continue
        print(f"| {name} | {count / 1000:.1f}k | {ours / count:.2f} | {count / floor:.2f} |")
    floor_prompt = per_call["floor, 8.7k-character prompt in data"]
    ours_prompt = per_call["ours, 8.7k-character prompt in data"]
    print(f"| floor, 8.7k-character prompt | {floor_prompt / 1000:.1f}k | | 1.00 |")
    print(
        f"| ours, 8.7k-character prompt | {ours_prompt / 1000:.1f}k | | "
        f"{ours_prompt / floor_prompt:.2f} |"
    )
    seed = per_call["seed design (stdlib + python-json-logger)"]
    native = per_call["structlog native"]
    print(f"\nseed / ours: {seed / ours:.2f}x (target >= 3); ours / structlog: {ours / native:.2f}")
    print(f"ours / floor: {ours / floor:.2f}x (target <= 1.5)")


if __name__ == "__main__":
    main()
