"""configure_logging: idempotence, environment, levels, files and rotation, queue mode, faults."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import agent_tracing as at
from tests.conftest import json_lines


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_agent_tracing_handler", False)]


def test_repeating_the_call_never_duplicates_handlers(tmp_path: Path) -> None:
    """Three calls leave one console and one JSON handler; a foreign one comes back once."""
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)
    try:
        for _ in range(3):
            at.configure_logging(json_output=str(tmp_path / "a.jsonl"))
        assert len(_ours()) == 2
        assert foreign not in logging.getLogger().handlers
        at.shutdown_logging()
        assert logging.getLogger().handlers.count(foreign) == 1
    finally:
        logging.getLogger().removeHandler(foreign)


def test_each_view_has_its_own_level(tmp_path: Path) -> None:
    """Console at WARNING and JSON at DEBUG see different lines; per-logger levels apply."""
    stream = io.StringIO()
    out = tmp_path / "levels.jsonl"
    at.configure_logging(
        level="DEBUG",
        console_stream=stream,
        console_level="WARNING",
        json_output=str(out),
        json_level="DEBUG",
        levels={"app.noisy": "ERROR"},
        color=False,
    )
    log = at.get_logger("app.svc")
    log.debug("debug line")
    log.warning("warning line")
    at.get_logger("app.noisy").warning("suppressed")
    at.flush_logging()
    assert [line["message"] for line in json_lines(out)] == ["debug line", "warning line"]
    assert "debug line" not in stream.getvalue()
    assert "warning line" in stream.getvalue()


def test_environment_overrides_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AGENT_TRACING_* variables set what arguments leave open; arguments still win."""
    out = tmp_path / "env.jsonl"
    monkeypatch.setenv("AGENT_TRACING_JSON_OUTPUT", str(out))
    monkeypatch.setenv("AGENT_TRACING_CONSOLE", "0")
    monkeypatch.setenv("AGENT_TRACING_LEVELS", "app.a=DEBUG, app.b=ERROR")
    monkeypatch.setenv("AGENT_TRACING_REDACT_KEYS", "pin_code")
    monkeypatch.setenv("AGENT_TRACING_MAX_STRING", "10")
    settings = at.configure_logging(json_level="INFO")
    assert settings.console is False
    assert settings.json_level == logging.INFO
    assert settings.levels == {"app.a": logging.DEBUG, "app.b": logging.ERROR}
    at.get_logger("app.a").info("0123456789abcdef", data={"pinCode": "1234"})
    at.flush_logging()
    (line,) = json_lines(out)
    assert line["data"] == {"pinCode": "[REDACTED]"}
    assert line["message"] == "0123456789…[truncated 6 chars]"


def test_size_rotation_keeps_whole_lines(tmp_path: Path) -> None:
    """With size rotation every file holds whole JSON lines and none is lost."""
    out = tmp_path / "rot.jsonl"
    at.configure_logging(console=False, json_output=str(out), rotate="size", max_bytes=4000,
                         backup_count=50)  # fmt: skip
    for i in range(200):
        at.get_logger("app.rot").info("line", data={"i": i})
    at.flush_logging()
    files = sorted(tmp_path.glob("rot.jsonl*"))
    assert len(files) > 3
    seen = sorted(line["data"]["i"] for f in files for line in json_lines(f))
    assert seen == list(range(200))


def test_time_rotation_handler_is_built(tmp_path: Path) -> None:
    """rotate='time' installs the timed handler, writing JSON lines."""
    out = tmp_path / "timed.jsonl"
    at.configure_logging(console=False, json_output=str(out), rotate="time", when="H")
    assert isinstance(_ours()[0], at.TimedRotatingJsonFileHandler)
    at.get_logger("app.t").info("timed")
    at.flush_logging()
    assert json_lines(out)[0]["message"] == "timed"


def test_queue_mode_keeps_context_and_exception(tmp_path: Path) -> None:
    """In queue mode the line written by the listener has the caller's context and exception."""
    out = tmp_path / "queue.jsonl"
    at.configure_logging(console=False, json_output=str(out), queue_mode=True)
    with at.bind(correlation_id="cid-q", user_id="u-q"):
        try:
            raise ValueError("queued failure")
        except ValueError:
            at.get_logger("app.q").exception("failed")
        logging.getLogger("thirdparty").warning("foreign %s", "record")
    at.flush_logging()
    failed, foreign = json_lines(out)
    assert (failed["correlation_id"], failed["user_id"]) == ("cid-q", "u-q")
    assert failed["exception"]["type"] == "ValueError"
    assert "queued failure" in failed["exception"]["traceback"]
    assert failed["message"] == "failed"
    assert (foreign["correlation_id"], foreign["message"]) == ("cid-q", "foreign record")


def test_queue_mode_loses_nothing_at_normal_exit(tmp_path: Path) -> None:
    """A process that logs 5,000 lines in queue mode and exits has all of them in the file."""
    out = tmp_path / "exit.jsonl"
    script = textwrap.dedent(
        f"""
        import agent_tracing as at
        at.configure_logging(console=False, json_output={str(out)!r}, queue_mode=True)
        log = at.get_logger("app.exit")
        for i in range(5000):
            log.info("n", data={{"i": i}})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert [line["data"]["i"] for line in json_lines(out)] == list(range(5000))


def test_queue_mode_in_a_forked_child(tmp_path: Path) -> None:
    """A forked child gets its own listener: its lines reach the file."""
    out = tmp_path / "fork.jsonl"
    at.configure_logging(console=False, json_output=str(out), queue_mode=True)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        at.get_logger("app.child").info("from child")
        at.flush_logging()
        os._exit(0)
    os.waitpid(pid, 0)
    at.get_logger("app.parent").info("from parent")
    at.flush_logging()
    assert sorted(line["message"] for line in json_lines(out)) == ["from child", "from parent"]


def test_a_failing_stream_is_reported_once_and_the_other_view_keeps_writing(
    tmp_path: Path,
) -> None:
    """Writing to /dev/full fails: one report on stderr, the console view still writes."""
    script = textwrap.dedent(
        """
        import sys, agent_tracing as at
        at.configure_logging(json_output="/dev/full", console_stream="stdout", color=False)
        log = at.get_logger("app.full")
        for i in range(50):
            log.info("line %d", i)
        print("app still running")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.count("app.full") == 50
    assert "app still running" in done.stdout
    assert done.stderr.count("could not write a log record") == 1


def test_invalid_rotation_is_a_clear_error() -> None:
    """A wrong rotate value raises ValueError naming the choices."""
    with pytest.raises(ValueError, match="rotate must be"):
        at.configure_logging(rotate="weekly")


def test_several_processes_share_one_rotating_file(tmp_path: Path) -> None:
    """4 processes x 1,500 lines into one size-rotated file: lines whole, none lost, and each
    rotation happens once (no process rotates a file another one has just started)."""
    out = tmp_path / "shared.jsonl"
    script = textwrap.dedent(
        f"""
        import sys, agent_tracing as at
        at.configure_logging(console=False, json_output={str(out)!r}, rotate="size",
                             max_bytes=64_000, backup_count=1000)
        log = at.get_logger("app.proc")
        for i in range(1500):
            log.info("line", data={{"proc": int(sys.argv[1]), "i": i, "pad": "x" * 40}})
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    files = sorted(tmp_path.glob("shared.jsonl*"))
    lines = [line for f in files if not f.name.endswith(".lock") for line in json_lines(f)]
    seen = sorted((line["data"]["proc"], line["data"]["i"]) for line in lines)
    assert seen == [(p, i) for p in range(4) for i in range(1500)]
    rotated = [f for f in files if f.suffix not in (".jsonl", ".lock")]
    assert len(rotated) > 5
    assert min(f.stat().st_size for f in rotated) > 60_000


def test_a_failing_console_stream_is_reported_once_and_the_json_view_keeps_writing(
    tmp_path: Path,
) -> None:
    """stdout on a full device under the console view: one report on stderr (not a traceback per
    line) and every line still in the JSON file."""
    out = tmp_path / "console-full.jsonl"
    script = textwrap.dedent(
        f"""
        import sys, agent_tracing as at
        at.configure_logging(console_stream="stdout", json_output={str(out)!r}, color=False)
        log = at.get_logger("app.full")
        for i in range(50):
            log.info("line %d", i)
        print("app still running", file=sys.stderr)
        """
    )
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-c", script],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert "app still running" in done.stderr
    assert done.stderr.count("could not write a log record") == 1
    assert "Logging error" not in done.stderr
    assert len(json_lines(out)) == 50


def test_queue_handler_prepares_a_copy() -> None:
    """The queued record has the formatted message and the exception; the caller's is intact."""
    import queue

    from agent_tracing.handlers import ContextQueueHandler

    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = ContextQueueHandler(q)
    logger = logging.getLogger("app.queue_copy")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        log = at.get_logger("app.queue_copy")
        log.info("v=%(a)s", {"a": 1})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed %s", "here")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    first, second = q.get_nowait(), q.get_nowait()
    assert (first.msg, first.args, first.message) == ("v=1", None, "v=1")
    assert (second.msg, second.exc_info) == ("failed here", None)
    assert "ValueError: boom" in second.exc_text
