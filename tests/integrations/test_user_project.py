"""The user-project trial: a new user's FastAPI + LangGraph + Celery project, written from the
README alone, run as the user runs it.

The project (``tests/integrations/user_project/``, copied to a temporary folder) has its own
``app`` package without an ``__init__.py`` and calls ``configure_logging(json_output=<file>)``
once, at import. It is served by a real ``uvicorn`` and a real prefork Celery worker on Redis,
in a virtual environment that has the library and its dependencies but not this checkout (whose
reference ``app`` would otherwise stand in for the user's). Their stdout and stderr, captured to
files, are the terminal.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

import agent_tracing as at
from tests.conftest import json_lines, require_service
from tests.integrations.celery_support import wait_for
from tests.integrations.test_fastapi_uvicorn import free_port

pytestmark = [pytest.mark.slow, pytest.mark.services]

PROJECT = Path(__file__).resolve().parent / "user_project"
REDIS_URL = "redis://127.0.0.1:6379/0"
USERS = ("alice", "bob", "carol")
REQUEST_ID = f"trial-{uuid.uuid4().hex[:12]}"

#: The console view's line: ``HH:MM:SS.mmm LEVEL    [short id] logger - message``.
CONSOLE_LINE = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d{3} ")


@dataclass
class Process:
    """A process of the project, with its terminal (stdout and stderr captured to files)."""

    name: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def terminal(self) -> tuple[list[str], list[str]]:
        """The lines it wrote on stdout and on stderr."""
        return (
            self.stdout.read_text(errors="replace").splitlines(),
            self.stderr.read_text(errors="replace").splitlines(),
        )

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL to the whole group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@dataclass
class Trial:
    """What one run of the project left: the JSON file, the terminals, the responses."""

    lines: list[dict[str, Any]]
    api: Process
    worker: Process
    responses: dict[str, httpx.Response] = field(default_factory=dict)

    def correlation_id(self, user: str) -> str:
        """The id the API sent back for ``user``'s request."""
        headers = self.responses[user].headers
        return str(headers.get("X-Request-ID") or headers["X-Correlation-ID"])

    def of(self, user: str) -> list[dict[str, Any]]:
        """The file's lines carrying ``user``'s request id."""
        cid = self.correlation_id(user)
        return [line for line in self.lines if line["correlation_id"] == cid]


def make_venv(folder: Path) -> Path:
    """A venv whose ``site-packages`` reach this library and the shared venv's packages, as an
    installed wheel would, but not this checkout's root (no reference ``app`` on ``sys.path``).

    A ``.pth`` line adds a folder to ``sys.path`` without reading that folder's own ``.pth``
    files, so the editable install's path entry for the checkout is left out.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    (site,) = (folder / "lib").glob("python3*/site-packages")
    library = folder / "library"
    library.mkdir()
    (library / "agent_tracing").symlink_to(Path(at.__file__).resolve().parent)
    shared = sysconfig.get_paths()["purelib"]
    (site / "trial.pth").write_text(f"{library}\n{shared}\n")
    return folder / "bin" / "python"


def start(name: str, command: list[str], project: Path, env: dict[str, str]) -> Process:
    """Start ``command`` in the project folder, its output captured to files."""
    stdout, stderr = project / f"{name}.stdout", project / f"{name}.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=out, stderr=err, start_new_session=True
        )
    return Process(name, process, stdout, stderr)


def file_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON file's lines so far."""
    return json_lines(path) if path.exists() else []


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trial]:
    """Run the project: a prefork worker, the API under uvicorn, one request per user (alice's
    with an ``X-Request-ID``), until every task ended; then stop both (warm shutdown)."""
    require_service("Redis", "127.0.0.1", 6379)
    base = tmp_path_factory.mktemp("trial")
    project = base / "project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    assert not (project / "app" / "__init__.py").exists()
    python = str(make_venv(base / "venv"))
    log_file = project / "logs" / "app.jsonl"
    log_file.parent.mkdir()
    queue = f"at-trial-{uuid.uuid4().hex[:10]}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENT_TRACING_", "CELERY_", "FORCE_COLOR"))
        and key not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    env.update(
        PYTHONPATH=str(project),
        TRIAL_LOG_FILE=str(log_file),
        TRIAL_BROKER=REDIS_URL,
        TRIAL_QUEUE=queue,
    )
    port = free_port()
    processes: list[Process] = []
    try:
        worker = start(
            "worker",
            [
                python, "-m", "celery", "-A", "app.tasks", "worker", "--pool", "prefork",
                "--concurrency", "2", "-Q", queue, "-n", f"{queue}@%h", "--loglevel", "INFO",
                "--without-heartbeat", "--without-mingle", "--without-gossip",
            ],  # fmt: skip
            project,
            env,
        )
        processes.append(worker)
        api = start(
            "api",
            [python, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
            project,
            env,
        )
        processes.append(api)
        base_url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            for process in processes:
                if process.process.poll() is not None:
                    raise AssertionError(f"{process.name} exited: {process.terminal()}")
            try:
                ready = httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False
            return ready and any(
                line["message"].endswith(" ready.") for line in file_lines(log_file)
            )

        wait_for(up, timeout=30, interval=0.1)
        trial = Trial([], api, worker)
        with httpx.Client(base_url=base_url, timeout=20.0) as client:
            for user in USERS:
                headers = {"X-Request-ID": REQUEST_ID} if user == "alice" else {}
                trial.responses[user] = client.post(f"/trade/{user}", headers=headers)
        for user in USERS:
            assert trial.responses[user].status_code == 200, trial.responses[user].text
        ids = {trial.correlation_id(user) for user in USERS}

        def all_ended() -> bool:
            ended = {
                line["correlation_id"]
                for line in file_lines(log_file)
                if line["event"] == "task.end"
            }
            return ids <= ended

        wait_for(all_ended, timeout=30, interval=0.1)
    finally:
        for process in reversed(processes):
            process.stop()
    trial.lines = file_lines(log_file)
    yield trial


def test_the_users_own_app_package_is_served(trial: Trial) -> None:
    """uvicorn served the project's ``app.main`` (a namespace package), not another ``app``."""
    module = trial.responses["alice"].json()["module"]
    assert module.endswith("/project/app/main.py"), module


def test_every_file_line_is_in_the_schema(trial: Trial) -> None:
    """Every line of the JSON file parses and starts with the schema's keys, in order."""
    assert trial.lines
    for line in trial.lines:
        assert list(line)[: len(at.SCHEMA_KEYS)] == list(at.SCHEMA_KEYS), line


def test_debug(trial: Trial) -> None:
    """Temporary: show what the trial wrote."""
    for line in trial.lines:
        print(orjson.dumps(line).decode())
    for process in (trial.api, trial.worker):
        out, err = process.terminal()
        print(f"==== {process.name} stdout")
        print("\n".join(out))
        print(f"==== {process.name} stderr")
        print("\n".join(err))
    assert Counter() == Counter()
