"""Nothing accepted is lost: queue mode under SIGTERM and SIGINT, and a failed reconfiguration
that keeps the working setup."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import agent_tracing as at
from tests.conftest import ROOT
from tests.reliability.conftest import file_lines

LINES = 30_000


def _script(out: Path, before: str = "", after: str = "") -> str:
    """A process that logs ``LINES`` lines in queue mode, says so, then waits on stdin."""
    return textwrap.dedent(
        f"""
        import signal, sys
        import agent_tracing as at
        {before}
        at.configure_logging(console=False, json_output={str(out)!r}, queue_mode=True)
        log = at.get_logger("app.term")
        for i in range(LINES):
            log.info("n", data={{"i": i}})
        print("ready", flush=True)
        sys.stdin.readline()
        {after}
        """
    ).replace("LINES", str(LINES))


def _start(script: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


def _numbers(out: Path) -> list[int]:
    return [line["data"]["i"] for line in file_lines(out)]


def test_sigterm_in_queue_mode_writes_every_accepted_line(tmp_path: Path) -> None:
    """SIGTERM with no handler of the app's own: every accepted line is in the file and the
    process still ends by SIGTERM."""
    out = tmp_path / "term.jsonl"
    proc = _start(_script(out))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM, err
    assert _numbers(out) == list(range(LINES))


def test_sigterm_chains_to_the_apps_own_handler(tmp_path: Path) -> None:
    """The app's SIGTERM handler still runs (here it exits with 3), after the queue is drained;
    what it logs is written too."""
    out = tmp_path / "chain.jsonl"
    before = textwrap.dedent(
        """
        def on_term(signum, frame):
            at.get_logger("app.term").info("n", data={"i": -1})
            sys.exit(3)
        signal.signal(signal.SIGTERM, on_term)
        """
    ).replace("\n", "\n        ")
    proc = _start(_script(out, before=before))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert _numbers(out) == [*range(LINES), -1]


def test_an_ignored_sigterm_stays_ignored(tmp_path: Path) -> None:
    """With SIGTERM ignored before configuration, the process lives on and logs on."""
    out = tmp_path / "ignored.jsonl"
    before = "signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    after = 'log.info("n", data={"i": -1})'
    proc = _start(_script(out, before=before, after=after))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate("go\n", timeout=60)
    assert proc.returncode == 0, err
    assert _numbers(out) == [*range(LINES), -1]


def test_sigint_in_queue_mode_writes_every_accepted_line(tmp_path: Path) -> None:
    """Ctrl-C (KeyboardInterrupt out of the main thread) keeps every accepted line."""
    out = tmp_path / "int.jsonl"
    proc = _start(_script(out))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGINT, err
    assert _numbers(out) == list(range(LINES))


def test_the_sigterm_handler_is_undone_at_shutdown_and_reconfiguration(tmp_path: Path) -> None:
    """Queue mode installs its SIGTERM handler; leaving queue mode or shutting down puts the
    previous one back."""

    def mine(signum: int, frame: Any) -> None:  # pragma: no cover - never signalled
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        at.configure_logging(console=False, json_output=str(tmp_path / "a.jsonl"), queue_mode=True)
        assert signal.getsignal(signal.SIGTERM) is not mine
        at.configure_logging(console=False, json_output=str(tmp_path / "a.jsonl"), queue_mode=True)
        at.configure_logging(console=False, json_output=str(tmp_path / "a.jsonl"))
        assert signal.getsignal(signal.SIGTERM) is mine
        at.configure_logging(console=False, json_output=str(tmp_path / "a.jsonl"), queue_mode=True)
        at.shutdown_logging()
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_queue_mode_configured_outside_the_main_thread(tmp_path: Path) -> None:
    """Configuring queue mode from another thread works (no handler can be set there)."""
    out = tmp_path / "thread.jsonl"
    before = signal.getsignal(signal.SIGTERM)
    errors: list[BaseException] = []

    def configure() -> None:
        try:
            at.configure_logging(console=False, json_output=str(out), queue_mode=True)
        except BaseException as error:  # pragma: no cover - what the test looks for
            errors.append(error)

    thread = threading.Thread(target=configure)
    thread.start()
    thread.join(timeout=10)
    at.get_logger("app.thread").info("n", data={"i": 0})
    at.flush_logging()
    assert errors == []
    assert signal.getsignal(signal.SIGTERM) is before
    assert _numbers(out) == [0]


def _bad_calls(tmp_path: Path) -> list[dict[str, Any]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    return [
        {"json_output": str(a_file / "sub" / "x.jsonl")},
        {"json_output": str(a_file / "x.jsonl")},
        {"json_output": str(tmp_path)},
        {"rotate": "weekly", "json_output": str(tmp_path / "w.jsonl")},
        {"level": "LOUD"},
        {"json_level": "LOUDER"},
        {"levels": {"app": "NOPE"}},
        {"rotate": "time", "when": "fortnight", "json_output": str(tmp_path / "t.jsonl")},
        {"max_items": "many"},
    ]


@pytest.mark.parametrize("index", range(9))
def test_a_failed_configuration_keeps_the_working_setup(
    tmp_path: Path, index: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """A configure_logging that fails raises a clear error and leaves the previous setup in
    place: later lines still reach its file, redacted, at its levels."""
    first = tmp_path / "first.jsonl"
    at.configure_logging(console=False, json_output=str(first), redact_keys=["pin"])
    bad = _bad_calls(tmp_path)[index]
    with pytest.raises((ValueError, OSError, TypeError)) as raised:
        at.configure_logging(console=False, **bad)
    assert "previous logging setup" in str(raised.value)
    log = at.get_logger("app.kept")
    log.info("kept", data={"pin": "1234", "password": "hunter2"})
    log.debug("not at INFO")
    logging.getLogger("app.stdlib").warning("stdlib api_key=sk-abcdefghijklmnopqrstuvwx")
    at.flush_logging()
    lines = file_lines(first)
    assert [line["message"] for line in lines] == ["kept", "stdlib api_key=[REDACTED]"]
    assert lines[0]["data"] == {"pin": "[REDACTED]", "password": "[REDACTED]"}
    assert "hunter2" not in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "first.jsonl"]


def test_sigterm_while_the_app_is_still_logging(tmp_path: Path) -> None:
    """SIGTERM in the middle of a logging loop (from main and a second thread): the file holds
    whole lines with no gap in each thread's sequence, and the process ends by SIGTERM."""
    out = tmp_path / "busy.jsonl"
    script = textwrap.dedent(
        f"""
        import threading
        import agent_tracing as at
        at.configure_logging(console=False, json_output={str(out)!r}, queue_mode=True)
        log = at.get_logger("app.busy")
        def other():
            for i in range(10**9):
                log.info("n", data={{"i": i, "t": "other"}})
        threading.Thread(target=other, daemon=True).start()
        for i in range(10**9):
            log.info("n", data={{"i": i, "t": "main"}})
            if i == 5000:
                print("ready", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM, err
    lines = file_lines(out)
    for name in ("main", "other"):
        numbers = [line["data"]["i"] for line in lines if line["data"]["t"] == name]
        assert numbers == list(range(len(numbers)))
    assert len([line for line in lines if line["data"]["t"] == "main"]) > 5000


def test_sigterm_while_the_process_drains_at_exit(tmp_path: Path) -> None:
    """SIGTERM while the exit hook drains the queue: the drain finishes before the process ends."""
    out = tmp_path / "exit.jsonl"
    script = _script(out).replace("sys.stdin.readline()", "")
    proc = _start(script)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert _numbers(out) == list(range(LINES))


def test_reconfiguring_under_load_never_leaves_the_root_without_handlers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A thread logging warnings while the main thread reconfigures never falls through to the
    stdlib's last-resort handler (which writes unredacted to stderr)."""
    out = tmp_path / "swap.jsonl"
    at.configure_logging(console=False, json_output=str(out))
    stop = threading.Event()
    log = logging.getLogger("app.swap")
    root = logging.getLogger()
    # Without pytest's own capture handlers: the root logger holds ours only, as in an app.
    foreign = [h for h in root.handlers if not getattr(h, "_agent_tracing_handler", False)]
    for handler in foreign:
        root.removeHandler(handler)

    def spam() -> None:
        while not stop.is_set():
            log.warning("password=hunter2")

    thread = threading.Thread(target=spam)
    thread.start()
    try:
        for _ in range(100):
            at.configure_logging(console=False, json_output=str(out))
    finally:
        stop.set()
        thread.join(timeout=10)
        for handler in foreign:
            root.addHandler(handler)
    assert "hunter2" not in capsys.readouterr().err
    assert all("hunter2" not in str(line) for line in file_lines(out))


class _SlowHandler(logging.Handler):
    """A target that takes ``delay`` seconds per record, or blocks until released."""

    def __init__(self, delay: float, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.delay, self.gate, self.seen = delay, gate, 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.gate is not None:
            self.gate.wait(30)
        threading.Event().wait(self.delay)
        self.seen += 1


def _queue_setup_with(handler: logging.Handler, monkeypatch: pytest.MonkeyPatch) -> None:
    at.configure_logging(console=False, json=True, json_output="stderr", queue_mode=True)
    from agent_tracing import config

    listener = config._State.listener
    assert listener is not None
    monkeypatch.setattr(listener, "handlers", (*listener.handlers, handler))


def test_a_drain_waits_for_a_slow_listener_that_is_still_writing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SIGTERM drain waits as long as the listener keeps writing (a backlog longer than the
    stall limit is written whole), not a fixed time."""
    from agent_tracing import config

    slow = _SlowHandler(0.03)
    _queue_setup_with(slow, monkeypatch)
    log = at.get_logger("app.backlog")
    for i in range(40):  # 1.2 s of writing, four times the stall limit
        log.info("n", data={"i": i})
    config._drain(0.3)
    assert slow.seen == 40


def test_a_drain_gives_up_on_a_listener_that_writes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listener stuck (here on a handler that never returns) holds the drain only for the stall
    limit, so a stuck logger never keeps the process from ending."""
    from agent_tracing import config

    gate = threading.Event()
    _queue_setup_with(_SlowHandler(0, gate), monkeypatch)
    at.get_logger("app.stuck").info("blocks the listener")
    started = time.monotonic()
    try:
        config._drain(0.3)
        waited = time.monotonic() - started
    finally:
        gate.set()
    assert 0.3 <= waited < 5
