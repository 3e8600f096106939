"""A worker keeps the configuration the process set up before it started.

The user's module calls ``configure_logging`` at import and ``instrument_celery(app)``; the
worker's ``setup_logging`` keeps that setup, and Celery's ``--loglevel`` / ``--logfile`` fill in
only what the user did not give.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from celery import Celery, signals

import agent_tracing as at
from agent_tracing.celery import instrument_celery, uninstrument_celery
from tests.conftest import ROOT, json_lines
from tests.integrations.celery_support import instrumented

_MODULE = """
import os

from celery import Celery

import agent_tracing as at
from agent_tracing.celery import instrument_celery

{configure}
app = Celery("usermod", broker=os.environ["USER_BROKER"], backend=os.environ["USER_BROKER"])
app.conf.task_default_queue = os.environ["USER_QUEUE"]
app.conf.worker_pool_start_method = os.environ.get("USER_START_METHOD", "fork")
instrument_celery(app)


@app.task(name="usermod.ping")
def ping(value):
    at.get_logger("usermod").info("pinged", data={{"value": value}})
    return value
"""


class UserWorker:
    """A prefork worker (``celery -A usermod worker``) of a user's module, in its own folder."""

    def __init__(
        self,
        folder: Path,
        configure: str,
        redis_url: str,
        *options: str,
        start_method: str = "fork",
    ) -> None:
        self.folder = folder
        self.queue = f"at-user-{uuid.uuid4().hex[:10]}"
        module = f"usermod_{uuid.uuid4().hex[:8]}"
        (folder / f"{module}.py").write_text(_MODULE.format(configure=configure))
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AGENT_TRACING_", "CELERY_"))
        }
        env.update(
            USER_BROKER=redis_url,
            USER_QUEUE=self.queue,
            USER_START_METHOD=start_method,
            PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]),
        )
        command = [
            sys.executable, "-m", "celery", "-A", module, "worker", "-P", "prefork", "-c", "1",
            "-n", f"user-{uuid.uuid4().hex[:8]}@%h", *options,
            "--without-heartbeat", "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        self.stdout = folder / "stdout.txt"
        self.stderr = folder / "stderr.txt"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                command, cwd=folder, env=env, stdout=out, stderr=err, start_new_session=True
            )
        self.app = Celery("publisher", broker=redis_url, backend=redis_url)

    def ping(self, correlation_id: str) -> None:
        """Publish ``usermod.ping`` with ``correlation_id`` and wait for its result."""
        with at.bind(correlation_id=correlation_id):
            result = self.app.send_task("usermod.ping", args=[7], queue=self.queue)
        assert result.get(timeout=60) == 7

    def stop(self) -> None:
        """Warm shutdown (SIGTERM): the child exits and every line is written; the publisher's
        broker and result connections are closed (none outlives the test)."""
        self.app.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[UserWorker]]:
    """Started workers, stopped after the test; the publisher is instrumented meanwhile."""
    started: list[UserWorker] = []
    with instrumented():
        try:
            yield started
        finally:
            for worker in started:
                worker.stop()


def _task_lines(lines: list[dict[str, Any]], correlation_id: str) -> list[tuple[Any, Any]]:
    return [
        (line["event"], line["message"])
        for line in lines
        if line.get("correlation_id") == correlation_id
    ]


def _stdout_json(worker: UserWorker) -> list[dict[str, Any]]:
    """The JSON lines on the worker's stdout (Celery's start-up banner is there too)."""
    parsed = []
    for text in worker.stdout.read_bytes().splitlines() if worker.stdout.exists() else []:
        try:
            line = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        if isinstance(line, dict):
            parsed.append(line)
    return parsed


@pytest.mark.parametrize("more", ["", ", queue_mode=True"])
def test_a_prefork_worker_writes_to_the_users_file_once(
    redis_url: str, tmp_path: Path, workers: list[UserWorker], more: str
) -> None:
    """configure_logging(json_output=file) at import + instrument_celery, ``-l INFO``: the task's
    lines reach the user's file exactly once (queue mode too), none as JSON on stdout."""
    path = tmp_path / "w.jsonl"
    worker = UserWorker(
        tmp_path, f"at.configure_logging(json_output={str(path)!r}{more})", redis_url, "-l", "INFO"
    )
    workers.append(worker)
    worker.ping("cid-user-file")
    worker.stop()
    expected = [
        ("task.start", "usermod.ping started"),
        (None, "pinged"),
        ("task.end", "usermod.ping succeeded"),
    ]
    lines = json_lines(path) if path.exists() else []
    assert expected == _task_lines(lines, "cid-user-file")
    # The console view (stderr, the user's default) shows the task's own line once too.
    assert worker.stderr.read_text().count("- pinged ") == 1
    assert _task_lines(_stdout_json(worker), "cid-user-file") == []


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_without_loglevel_the_users_level_stays(
    redis_url: str, tmp_path: Path, workers: list[UserWorker], start_method: str
) -> None:
    """No ``-l`` on the command line: Celery's default (WARNING) does not replace the level the
    user's setup resolved (INFO), in a forked child or one started as a fresh interpreter."""
    path = tmp_path / "w.jsonl"
    worker = UserWorker(
        tmp_path,
        f"at.configure_logging(console=False, json_output={str(path)!r})",
        redis_url,
        start_method=start_method,
    )
    workers.append(worker)
    worker.ping("cid-no-level")
    worker.stop()
    lines = json_lines(path) if path.exists() else []
    assert [event for event, _ in _task_lines(lines, "cid-no-level")] == [
        "task.start",
        None,
        "task.end",
    ]


def test_without_configure_logging_the_worker_uses_the_defaults(
    redis_url: str, tmp_path: Path, workers: list[UserWorker]
) -> None:
    """The user's module does not configure logging: the worker sets up the defaults, JSON on
    stdout, at the worker's ``-l`` (as before)."""
    worker = UserWorker(tmp_path, "", redis_url, "-l", "INFO")
    workers.append(worker)
    worker.ping("cid-defaults")
    worker.stop()
    assert [event for event, _ in _task_lines(_stdout_json(worker), "cid-defaults")] == [
        "task.start",
        None,
        "task.end",
    ]


# -- the rule, in process (Celery's setup_logging signal sent by hand) ---------------------------


@pytest.fixture
def clean() -> Iterator[None]:
    """No instrumentation before or after the test, and no AGENT_TRACING_ variable."""
    uninstrument_celery()
    saved = {key: os.environ.pop(key) for key in list(os.environ) if key.startswith("AGENT_")}
    try:
        yield
    finally:
        uninstrument_celery()
        os.environ.update(saved)


def _worker_starts(loglevel: int, logfile: str | None = None) -> None:
    signals.setup_logging.send(
        sender=None, loglevel=loglevel, logfile=logfile, format="", colorize=False
    )


def test_configured_arguments_are_what_the_call_was_given(clean: None, tmp_path: Path) -> None:
    """configured_arguments() is None before any call and after shutdown, else the explicit
    arguments of the call in effect."""
    from agent_tracing.config import configured_arguments

    assert configured_arguments() is None
    at.configure_logging(console=False, json_output=str(tmp_path / "a.jsonl"))
    assert {"console": False, "json_output": str(tmp_path / "a.jsonl")} == configured_arguments()
    at.shutdown_logging()
    assert configured_arguments() is None


def test_the_worker_keeps_the_users_file_and_level(clean: None, tmp_path: Path) -> None:
    """The user gave json_output and level: the worker's --logfile and -l change neither."""
    path = tmp_path / "user.jsonl"
    at.configure_logging(console=False, json_output=str(path), level="WARNING")
    instrument_celery()
    _worker_starts(logging.DEBUG, str(tmp_path / "celery.log"))
    settings = at.config._State.settings
    assert settings is not None
    assert (str(path), logging.WARNING) == (settings.json_output, settings.level)
    logging.getLogger("celery.worker").warning("kept")
    at.flush_logging()
    assert [line["message"] for line in json_lines(path)] == ["kept"]
    assert not (tmp_path / "celery.log").exists()


def test_the_worker_fills_in_what_the_user_left_out(clean: None, tmp_path: Path) -> None:
    """The user gave neither level nor json_output: -l and --logfile apply, the rest stays."""
    at.configure_logging(console=False, redact_keys=["pin"])
    instrument_celery()
    logfile = tmp_path / "celery.jsonl"
    _worker_starts(logging.DEBUG, str(logfile))
    settings = at.config._State.settings
    assert settings is not None
    assert (str(logfile), logging.DEBUG, False, ("pin",)) == (
        settings.json_output,
        settings.level,
        settings.console,
        settings.redact_keys,
    )


def test_logging_options_win_over_the_users_call(clean: None, tmp_path: Path) -> None:
    """instrument_celery's logging_options are for the worker: they win over the process's call."""
    at.configure_logging(console=False, json_output=str(tmp_path / "user.jsonl"))
    instrument_celery(logging_options={"json_output": str(tmp_path / "worker.jsonl")})
    _worker_starts(logging.INFO)
    settings = at.config._State.settings
    assert settings is not None
    assert (str(tmp_path / "worker.jsonl"), False) == (settings.json_output, settings.console)


def test_the_worker_keeps_redact_keys_given_as_a_generator(clean: None, tmp_path: Path) -> None:
    """redact_keys given as a one-shot iterable are still redacted after the worker's setup."""
    at.configure_logging(console=False, redact_keys=(key for key in ["pin"]))
    instrument_celery()
    _worker_starts(logging.INFO)
    settings = at.config._State.settings
    assert settings is not None
    assert settings.redact_keys == ("pin",)
