"""Queue mode's bound: a stalled sink holds at most ``queue_size`` records, a full queue makes the
caller wait up to ``queue_timeout`` and then drops and counts, the file says what was dropped,
the counters are exact, and neither the exit nor a fork is held up by it."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent_tracing as at
from agent_tracing import config
from agent_tracing.queueing import DROPPED_EVENT, QueueStats
from tests.conftest import ROOT, json_lines


class _Gate(logging.Handler):
    """A sink that blocks every record until the gate opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.entered.set()
        self.gate.wait(30)


@pytest.fixture
def gate() -> Iterator[_Gate]:
    """A gate put in front of the handlers of the queue-mode listener configured by the test
    (call :func:`_install_gate` after ``configure_logging``)."""
    handler = _Gate()
    yield handler
    handler.gate.set()


def _install_gate(gate: _Gate) -> None:
    listener = config._State.listener
    assert listener is not None
    listener.handlers = (gate, *listener.handlers)


def _stats() -> QueueStats:
    stats = at.queue_stats()
    assert stats is not None
    return stats


def _numbers(out: Path) -> list[int]:
    return [line["data"]["i"] for line in json_lines(out) if line.get("event") != DROPPED_EVENT]


def test_a_stalled_sink_holds_at_most_queue_size_records(tmp_path: Path, gate: _Gate) -> None:
    """With the sink stalled the depth never passes the bound, each call past it waits about the
    timeout and is dropped, and the counters say exactly that."""
    out = tmp_path / "stalled.jsonl"
    at.configure_logging(console=False, json_output=str(out), queue_mode=True, queue_size=20,
                         queue_timeout=0.05)  # fmt: skip
    _install_gate(gate)
    log = at.get_logger("app.stalled")
    log.info("n", data={"i": 0})
    assert gate.entered.wait(10)
    waits = []
    for i in range(1, 30):
        started = time.monotonic()
        log.info("n", data={"i": i})
        waits.append(time.monotonic() - started)
        assert _stats().depth <= 20
    assert all(wait < 0.05 for wait in waits[:19])  # room: no wait
    assert all(0.05 <= wait < 1.0 for wait in waits[19:])  # full: the timeout, then dropped
    assert _stats() == QueueStats(size=20, accepted=20, written=0, dropped=10, depth=20,
                                  high_water=20)  # fmt: skip


def test_the_file_says_how_many_records_were_dropped(tmp_path: Path, gate: _Gate) -> None:
    """Once the sink resumes, the accepted lines are written in order and one WARNING line with
    event ``logging.dropped`` gives the count."""
    out = tmp_path / "dropped.jsonl"
    at.configure_logging(console=False, json_output=str(out), queue_mode=True, queue_size=5,
                         queue_timeout=0)  # fmt: skip
    _install_gate(gate)
    log = at.get_logger("app.dropped")
    log.info("n", data={"i": 0})
    assert gate.entered.wait(10)
    for i in range(1, 12):
        started = time.monotonic()
        log.info("n", data={"i": i})
        assert time.monotonic() - started < 0.5  # a timeout of 0 never waits
    gate.gate.set()
    at.flush_logging()
    assert _numbers(out) == [0, 1, 2, 3, 4]
    dropped = [line for line in json_lines(out) if line.get("event") == DROPPED_EVENT]
    assert len(dropped) == 1
    assert dropped[0]["level"] == "WARNING"
    assert dropped[0]["data"] == {"dropped": 7, "queue_size": 5}
    assert _stats() == QueueStats(size=5, accepted=5, written=5, dropped=7, depth=0, high_water=5)
    log.info("n", data={"i": 99})
    at.flush_logging()
    assert len([line for line in json_lines(out) if line.get("event") == DROPPED_EVENT]) == 1


def test_counters_are_exact_with_threads_outpacing_a_small_queue(tmp_path: Path) -> None:
    """Four threads logging into a queue of 8 wait for room rather than drop: every line is
    written, the counters add up and the depth never passed the bound."""
    out = tmp_path / "threads.jsonl"
    at.configure_logging(console=False, json_output=str(out), queue_mode=True, queue_size=8,
                         queue_timeout=5)  # fmt: skip
    log = at.get_logger("app.threads")

    def work(base: int) -> None:
        for i in range(500):
            log.info("n", data={"i": base + i})

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    at.flush_logging()
    assert sorted(_numbers(out)) == sorted(n * 1000 + i for n in range(4) for i in range(500))
    stats = _stats()
    assert (stats.accepted, stats.written, stats.dropped, stats.depth) == (2000, 2000, 0, 0)
    assert 1 <= stats.high_water <= 8


def test_queue_options_take_the_environment_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    """``queue_size``/``queue_timeout`` come from arguments or the environment, as text too;
    defaults are 10000 records and 1 s."""
    settings = at.configure_logging(console=False, json_output="stderr", queue_mode=True)
    assert (settings.queue_size, settings.queue_timeout) == (10_000, 1.0)
    assert _stats().size == 10_000
    monkeypatch.setenv("AGENT_TRACING_QUEUE_SIZE", "500")
    monkeypatch.setenv("AGENT_TRACING_QUEUE_TIMEOUT", "0.25")
    settings = at.configure_logging(console=False, json_output="stderr", queue_mode=True)
    assert (settings.queue_size, settings.queue_timeout) == (500, 0.25)
    settings = at.configure_logging(
        console=False, json_output="stderr", queue_mode=True, queue_size="64", queue_timeout=0
    )
    assert (settings.queue_size, settings.queue_timeout) == (64, 0)
    assert _stats().size == 64


@pytest.mark.parametrize(
    ("option", "value"),
    [("queue_size", 0), ("queue_size", "many"), ("queue_timeout", -1), ("queue_timeout", "soon"),
     ("queue_timeout", float("inf"))],
)  # fmt: skip
def test_bad_queue_options_are_refused(option: str, value: object) -> None:
    """An invalid bound or timeout is a ValueError naming the option."""
    with pytest.raises(ValueError, match=option):
        at.configure_logging(console=False, json_output="stderr", queue_mode=True,
                             **{option: value})  # type: ignore[arg-type]  # fmt: skip


def test_queue_stats_is_none_outside_queue_mode() -> None:
    """No queue, no counters."""
    at.configure_logging(console=False, json_output="stderr")
    assert at.queue_stats() is None


def _run(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_exit_with_a_stalled_sink_ends_within_the_stall_limit(tmp_path: Path) -> None:
    """A process whose sink never returns still exits: the exit drain gives up after the stall
    limit without progress instead of keeping the process alive."""
    out = tmp_path / "exit.jsonl"
    script = f"""
        import logging, threading
        import agent_tracing as at
        from agent_tracing import config
        config._DRAIN_STALL = 0.5
        class Stuck(logging.Handler):
            def emit(self, record):
                threading.Event().wait()
        at.configure_logging(console=False, json_output={str(out)!r}, queue_mode=True)
        config._State.listener.handlers = (Stuck(), *config._State.listener.handlers)
        log = at.get_logger("app.stuck")
        for i in range(100):
            log.info("n", data={{"i": i}})
        print("logged", flush=True)
        """
    started = time.monotonic()
    done = _run(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "logged\n"
    assert time.monotonic() - started < 15


def test_sigterm_drains_everything_a_small_queue_accepted(tmp_path: Path) -> None:
    """With a queue of 100 (from the environment) the caller waits for room rather than drop:
    all 20,000 lines are written, and SIGTERM still drains them all."""
    out = tmp_path / "term.jsonl"
    script = f"""
        import sys
        import agent_tracing as at
        at.configure_logging(console=False, json_output={str(out)!r}, queue_mode=True)
        log = at.get_logger("app.term")
        for i in range(20000):
            log.info("n", data={{"i": i}})
        print(at.queue_stats().dropped, flush=True)
        sys.stdin.readline()
        """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "AGENT_TRACING_QUEUE_SIZE": "100"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "0\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM, err
    assert _numbers(out) == list(range(20000))


def test_a_forked_child_has_its_own_bounded_queue(tmp_path: Path) -> None:
    """A forked child gets a queue of the same bound with counters of its own."""
    out = tmp_path / "fork.jsonl"
    at.configure_logging(console=False, json_output=str(out), queue_mode=True, queue_size=7)
    at.get_logger("app.parent").info("n", data={"i": 0})
    at.flush_logging()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            at.get_logger("app.child").info("n", data={"i": 1})
            at.flush_logging()
            os.write(write, json.dumps(at.queue_stats().__dict__).encode())  # type: ignore[union-attr]
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert child == {"size": 7, "accepted": 1, "written": 1, "dropped": 0, "depth": 0,
                     "high_water": 1}  # fmt: skip
    assert _stats().accepted == 1
    assert sorted(_numbers(out)) == [0, 1]
