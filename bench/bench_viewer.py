"""Viewer benchmark: finding one operation in a large log, ours beside jq and grep, in one run.

The log is the committed real run (tests/viewer/fixtures) repeated with new correlation ids up to
LINES lines. Each case is one process over the same file, so interpreter start-up counts for us as
it does for jq: ``agent-tracing view -c ID`` (parse every line, keep one operation, build and print
its tree), ``jq 'select(.correlation_id == $id)'`` (parse and select only), ``grep -F ID`` (no
parsing at all: the floor), and ``agent-tracing list`` beside ``jq -r .correlation_id | sort |
uniq -c``. Rounds are interleaved across cases so noise hits every case alike.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "viewer" / "fixtures"
LINES = int(os.environ.get("BENCH_VIEWER_LINES", "100000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))


def make_log(path: Path) -> str:
    """Write the log; return the correlation id of an operation in its middle."""
    template = b"".join(
        (FIXTURES / name).read_bytes() for name in ("api.jsonl", "worker.jsonl")
    ).splitlines()
    original = template[0].split(b'"correlation_id":"')[1].split(b'"')[0]
    target, written = "", 0
    with path.open("wb") as out:
        while written < LINES:
            cid = str(uuid.uuid4())
            if not target and written >= LINES // 2:
                target = cid
            out.write(b"\n".join(line.replace(original, cid.encode()) for line in template) + b"\n")
            written += len(template)
    return target


def timed(command: list[str] | str) -> float:
    """Seconds one run of ``command`` takes (output discarded)."""
    start = time.perf_counter()
    subprocess.run(
        command,
        shell=isinstance(command, str),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - start


def main() -> None:
    """Measure every case and print the table."""
    jq, grep = shutil.which("jq"), shutil.which("grep")
    with tempfile.TemporaryDirectory(prefix="at-bench-viewer-") as tmp:
        log = Path(tmp) / "large.jsonl"
        cid = make_log(log)
        ours = [sys.executable, "-m", "agent_tracing.cli"]
        cases: dict[str, list[str] | str] = {
            "ours view": [*ours, "view", str(log), "-c", cid, "--color", "never"],
            "ours html": [*ours, "html", str(log), "-c", cid, "-o", str(Path(tmp) / "t.html")],
            "ours list": [*ours, "list", str(log), "-n", "0"],
        }
        if jq:
            cases["jq select"] = [
                jq,
                "-c",
                "--arg",
                "id",
                cid,
                "select(.correlation_id == $id)",
                str(log),
            ]
            cases["jq ids"] = f"{jq} -r .correlation_id {log} | sort | uniq -c"
        if grep:
            cases["grep"] = [grep, "-F", cid, str(log)]
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for repeat in range(REPEATS + 1):
            for name, command in cases.items():
                value = timed(command)
                if repeat:  # the first round warms the page cache
                    samples[name].append(value)
        size_mb = log.stat().st_size / 2**20
    m = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"\nviewer: median seconds per run over a {LINES:,}-line ({size_mb:.0f} MB) log, "
        f"{REPEATS} interleaved rounds, {time.strftime('%Y-%m-%d')}"
    )
    print("| case | ours s | anchor | anchor s | ours / anchor |")
    print("|---|---|---|---|---|")
    rows = [
        ("one operation as a tree", "ours view", "jq select (no tree)", "jq select"),
        ("one operation as a tree", "ours view", "grep -F id (no parsing)", "grep"),
        ("one operation as a page", "ours html", "jq select (no page)", "jq select"),
        ("list operations", "ours list", "jq -r .correlation_id \\| sort \\| uniq -c", "jq ids"),
    ]
    for case, mine, anchor_name, anchor in rows:
        if anchor in m:
            print(
                f"| {case} | {m[mine]:.2f} | {anchor_name} | {m[anchor]:.2f} | "
                f"{m[mine] / m[anchor]:.2f} |"
            )
    print(f"\nlines per second, ours view: {LINES / m['ours view']:,.0f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
