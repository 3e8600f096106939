"""A large log (200,000 lines): streamed, only the chosen operation kept: bounded time, memory."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.viewer.conftest import FIXTURES

LINES = 200_000
# Generous (a run peaks near 32 MB, the interpreter and orjson included), and below the file's
# own size (~83 MB): holding its lines, let alone parsed, could not fit.
MAX_RSS_MB = 80
MAX_SECONDS = 120

# The peak resident size of this process alone: Linux's VmHWM belongs to the address space made
# by exec, while ru_maxrss carries over the (larger) pytest parent's peak across fork and exec.
_MEASURE = """
import resource, sys
from agent_tracing.cli import main
status = main(sys.argv[1:])
sys.stdout.flush()
try:
    with open("/proc/self/status") as proc:
        peak = next(int(x.split()[1]) for x in proc if x.startswith("VmHWM:"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"maxrss_kb={peak}", file=sys.stderr)
sys.exit(status)
"""


def _make_large_log(path: Path) -> str:
    """Repeat the committed real run with new ids until the file has ``LINES`` lines."""
    template = b"".join(
        (FIXTURES / name).read_bytes() for name in ("api.jsonl", "worker.jsonl")
    ).splitlines()
    original = template[0].split(b'"correlation_id":"')[1].split(b'"')[0]
    target = ""
    written = 0
    with path.open("wb") as out:
        while written < LINES:
            cid = str(uuid.uuid4())
            if not target and written >= LINES // 2:
                target = cid
            chunk = [line.replace(original, cid.encode()) for line in template]
            out.write(b"\n".join(chunk) + b"\n")
            written += len(chunk)
    return target


def _run(*argv: str) -> tuple[str, float, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS * 2,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    rss_kb = int(done.stderr.rsplit("maxrss_kb=", 1)[1])
    return done.stdout, elapsed, rss_kb / 1024


@pytest.mark.slow
def test_large_file_view_stays_bounded(tmp_path: Path) -> None:
    """``view`` and ``list`` over 200k lines finish in bounded time and memory."""
    path = tmp_path / "large.jsonl"
    target = _make_large_log(path)
    size_mb = path.stat().st_size / 2**20
    assert size_mb > MAX_RSS_MB

    out, elapsed, rss_mb = _run("view", str(path), "-c", target, "--color", "never")
    assert f"operation {target}" in out
    assert "34 lines" in out
    assert "freqtrade backtesting" in out
    assert elapsed < MAX_SECONDS, f"view took {elapsed:.1f}s"
    assert rss_mb < MAX_RSS_MB, f"view peaked at {rss_mb:.0f} MB for a {size_mb:.0f} MB file"

    out, elapsed, rss_mb = _run("list", str(path), "--limit", "3")
    assert len(out.splitlines()) == 4
    assert elapsed < MAX_SECONDS, f"list took {elapsed:.1f}s"
    assert rss_mb < MAX_RSS_MB, f"list peaked at {rss_mb:.0f} MB for a {size_mb:.0f} MB file"
