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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

import agent_tracing as at
from tests.conftest import json_lines, require_service
from tests.integrations.celery_support import wait_for
from tests.integrations.test_fastapi_uvicorn import free_port

pytestmark = [pytest.mark.slow, pytest.mark.services]

PROJECT = Path(__file__).resolve().parent / "user_project"
REDIS_URL = "redis://127.0.0.1:6379/0"
NOTIFIED = ("alice", "bob", "carol")
REFUSED = "mallory"  # the task refuses to notify her: it fails
USERS = (*NOTIFIED, REFUSED)
REQUEST_ID = f"trial-{uuid.uuid4().hex[:12]}"


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
    """The JSON file's complete lines so far (one being written while the file is read, with no
    newline yet, is left for the next read)."""
    if not path.exists():
        return []
    text = path.read_bytes()
    return [orjson.loads(line) for line in text[: text.rfind(b"\n") + 1].splitlines()]


def forget_queue(queue: str) -> None:
    """Delete what the run left on the shared Redis: the queue's and its exchanges' bindings."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def waiting(
    predicate: Callable[[], bool], what: str, processes: list[Process], log_file: Path
) -> None:
    """Wait up to 30 s for ``predicate``; on a timeout fail with what each process wrote."""
    try:
        wait_for(predicate, timeout=30, interval=0.1)
    except AssertionError:
        tails = [f"{p.name}: {[lines[-20:] for lines in p.terminal()]}" for p in processes]
        written = log_file.read_text()[-4000:] if log_file.exists() else "(no file)"
        pytest.fail(f"waited 30 s for {what}\n" + "\n".join(tails) + f"\nfile: {written}")


#: The call in ``app/main.py`` that routes uvicorn's loggers to the root handlers.
IN_CODE = "configure_uvicorn_logging(access_log=True)\n"


def uvicorn_command(python: str, project: Path, routing: str, port: int) -> list[str]:
    """The README's command for the API. ``in_code``: ``app.main`` calls
    ``configure_uvicorn_logging``; ``log_config``: the call is left out and uvicorn gets the
    README's ``--log-config`` file, written with the README's one-liner."""
    command = [python, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    if routing == "in_code":
        return command
    main = project / "app" / "main.py"
    source = main.read_text()
    assert IN_CODE in source
    main.write_text(source.replace(IN_CODE, ""))
    one_liner = (
        "import json, agent_tracing.fastapi as f;"
        " print(json.dumps(f.uvicorn_log_config(access_log=True)))"
    )
    config = subprocess.run(
        [python, "-c", one_liner], cwd=project, capture_output=True, check=True, text=True
    ).stdout
    (project / "uvicorn-log.json").write_text(config)
    return [*command, "--log-config", "uvicorn-log.json"]


@pytest.fixture(scope="module", params=["in_code", "log_config"])
def trial(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trial:
    """Run the project: a prefork worker, the API under uvicorn (uvicorn's loggers routed either
    way the README gives), one request per user (alice's with an ``X-Request-ID``), until every
    task ended; then stop both (warm shutdown)."""
    require_service("Redis", "127.0.0.1", 6379)
    base = tmp_path_factory.mktemp("trial")
    project = base / "project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__", "*.toml"))
    assert not (project / "app" / "__init__.py").exists()
    python = str(make_venv(base / "venv"))
    log_file = project / "logs" / "app.jsonl"  # named relative to the project, not created
    queue = f"at-trial-{uuid.uuid4().hex[:10]}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENT_TRACING_", "CELERY_", "FORCE_COLOR"))
        and key not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    env.update(
        PYTHONPATH=str(project),
        TRIAL_LOG_FILE="logs/app.jsonl",
        TRIAL_BROKER=REDIS_URL,
        TRIAL_QUEUE=queue,
    )
    port = free_port()
    processes: list[Process] = []
    try:
        # The worker as a user starts it, on its own queue; without mingle, gossip and
        # heartbeat it stays deaf to other workers on the same Redis.
        worker_command = (
            f"{python} -m celery -A app.tasks worker --pool prefork --concurrency 2 -Q {queue}"
            f" -n {queue}@%h --without-mingle --without-gossip --without-heartbeat"
        )
        worker = start("worker", worker_command.split(), project, env)
        processes.append(worker)
        api = start("api", uvicorn_command(python, project, request.param, port), project, env)
        processes.append(api)
        base_url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            for process in processes:
                if process.process.poll() is not None:
                    pytest.fail(f"{process.name} exited: {process.terminal()}")
            try:
                ready = httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False
            return ready and any(
                line["message"].endswith(" ready.") for line in file_lines(log_file)
            )

        waiting(up, "the API and the worker to start", processes, log_file)
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

        waiting(all_ended, "every task to end", processes, log_file)
    finally:
        for process in reversed(processes):
            process.stop()
        forget_queue(queue)
    trial.lines = json_lines(log_file)
    return trial


def expected_lines(user: str) -> Counter[tuple[str, str | None, str]]:
    """What one request logs, as (logger, event, message), each once: the API's lines, then the
    worker's (the access line's client address left out)."""
    api: list[tuple[str, str | None, str]] = [
        ("agent_tracing.fastapi", "http.request.start", f"POST /trade/{user} started"),
        ("app.audit", None, "Trade requested"),
        ("app.main", "trial.trade", "Trade asked"),
        ("agent_tracing.langchain", "agent.graph.start", "graph trader started"),
        ("agent_tracing.langchain", "agent.node.start", "node think started"),
        ("agent_tracing.langchain", "agent.llm.start", "llm FakeListChatModel started"),
        ("agent_tracing.langchain", "agent.llm.end", "llm FakeListChatModel ended"),
        ("agent_tracing.langchain", "agent.route.decision", "route think -> buy"),
        ("agent_tracing.langchain", "agent.node.end", "node think ended"),
        ("agent_tracing.langchain", "agent.node.start", "node buy started"),
        ("agent_tracing.langchain", "agent.node.end", "node buy ended"),
        ("agent_tracing.langchain", "agent.graph.end", "graph trader ended"),
        ("agent_tracing.celery", "task.published", "Task trial.notify published"),
        ("uvicorn.access", None, f'"POST /trade/{user} HTTP/1.1" 200'),
        ("agent_tracing.fastapi", "http.request.end", f"POST /trade/{user} 200"),
    ]
    worker: list[tuple[str, str | None, str]] = [
        ("agent_tracing.celery", "task.start", "trial.notify started")
    ]
    if user == REFUSED:
        worker += [
            ("agent_tracing.celery", "task.failed", "Task trial.notify failed"),
            ("agent_tracing.celery", "task.end", "trial.notify failed"),
        ]
    else:
        worker += [
            ("app.tasks", "trial.notify", "Notifying the user"),
            ("app.tasks.plain", None, "Plain logger line"),
            ("agent_tracing.celery", "task.end", "trial.notify succeeded"),
        ]
    return Counter(api + worker)


def _key(line: dict[str, Any]) -> tuple[str, str | None, str]:
    message = line["message"]
    if line["logger"] == "uvicorn.access":
        message = message.split(" - ", 1)[1]
    return (line["logger"], line["event"], message)


#: A line of the console view: ``LEVEL    logger [short id] - message {data}``.
CONSOLE_LINE = re.compile(
    r"^(?P<level>[A-Z]+) +(?P<logger>\S+) \[(?P<cid>[^\]]*)\] - (?P<rest>.*)$"
)


def console_lines(lines: list[str]) -> list[re.Match[str]]:
    """The console view's lines among what a process wrote on a stream."""
    return [match for line in lines if (match := CONSOLE_LINE.match(line))]


def is_json_object(text: str) -> bool:
    """Whether a terminal line is a JSON object (a JSON view's line)."""
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False


def test_the_users_own_app_package_is_served(trial: Trial) -> None:
    """uvicorn served the project's ``app.main`` (a namespace package, no ``__init__.py``), and
    the worker ran the project's ``app.tasks`` (the only module with ``trial.notify``)."""
    module = trial.responses["alice"].json()["module"]
    assert module.endswith("/project/app/main.py"), module
    assert [line for line in trial.lines if line["event"] == "task.end"]


def test_every_file_line_is_in_the_schema(trial: Trial) -> None:
    """Every line of the JSON file parses and starts with the schema's keys, in order; any
    other key is only ``exception``."""
    assert trial.lines
    for line in trial.lines:
        assert list(line)[: len(at.SCHEMA_KEYS)] == list(at.SCHEMA_KEYS), line
        assert set(line) - set(at.SCHEMA_KEYS) <= {"exception"}, line


def test_every_event_of_a_request_is_in_the_file_once(trial: Trial) -> None:
    """Each request's lines, API and worker, are exactly the expected ones, each once."""
    for user in USERS:
        assert expected_lines(user) == Counter(_key(line) for line in trial.of(user)), user


def test_no_line_is_written_twice_to_the_file(trial: Trial) -> None:
    """No two lines of the file are the same event of the same span (a record written twice),
    and Celery's own outcome line, which task.end replaces, is not there."""
    keys = Counter(
        (line["correlation_id"], line["logger"], line["event"], line["span_id"], line["message"])
        for line in trial.lines
    )
    assert [key for key, count in keys.items() if count > 1] == []
    outcomes = [
        line
        for line in trial.lines
        if line["logger"] == "celery.app.trace" and " succeeded in " in line["message"]
    ]
    assert outcomes == []


def test_one_correlation_id_flows_from_the_request_into_the_worker(trial: Trial) -> None:
    """The id the API answered with (the client's X-Request-ID for alice, a new one for the
    others) is on every line of the request, in the API and in the worker, with the user the
    route bound; the task's span is a child of the request's."""
    assert trial.responses["alice"].headers["X-Request-ID"] == REQUEST_ID
    assert "X-Correlation-ID" not in trial.responses["alice"].headers
    ids = {trial.correlation_id(user) for user in USERS}
    assert len(ids) == len(USERS)
    for user in USERS:
        lines = trial.of(user)
        (request,) = [line for line in lines if line["event"] == "http.request.end"]
        task = [
            line
            for line in lines
            if line["logger"] in {"app.tasks", "app.tasks.plain"}
            or line["event"] in {"task.start", "task.failed", "task.end"}
        ]
        assert len(task) == (3 if user == REFUSED else 4), user
        for line in task:
            assert (line["user_id"], line["parent_span_id"]) == (user, request["span_id"]), line
        assert len({line["span_id"] for line in task}) == 1
        assert task[0]["span_id"] != request["span_id"]


def test_extra_on_a_plain_logger_lands_in_the_schema(trial: Trial) -> None:
    """``logging.getLogger(...).info(..., extra={"user_id": ..., "data": {...}})``: user_id at
    the top level (the API's line is logged before the route binds the user), data and any
    other extra key in ``data``."""
    for user in USERS:
        (audit,) = [line for line in trial.of(user) if line["logger"] == "app.audit"]
        assert (audit["user_id"], audit["data"]) == (user, {"route": "trade"})
    for user in NOTIFIED:
        (plain,) = [line for line in trial.of(user) if line["logger"] == "app.tasks.plain"]
        assert (plain["user_id"], plain["data"]) == (
            user,
            {"decision": "bought", "channel": "email"},
        )


def test_uvicorn_and_celery_lines_are_in_the_file_once(trial: Trial) -> None:
    """uvicorn's server lines (``uvicorn.error``) and the worker's start lines are in the file
    once each, in the schema; uvicorn's access line once per request, with its id and span."""
    server = [line["message"] for line in trial.lines if line["logger"] == "uvicorn.error"]
    for expected in (
        "Started server process",
        "Waiting for application startup.",
        "Application startup complete.",
        "Uvicorn running on http://127.0.0.1:",
        "Shutting down",
        "Waiting for application shutdown.",
        "Application shutdown complete.",
        "Finished server process",
    ):
        assert sum(message.startswith(expected) for message in server) == 1, expected
    worker = [line["message"] for line in trial.lines if line["logger"].startswith("celery")]
    assert sum(message.startswith("Connected to redis://") for message in worker) == 1
    assert sum(message.endswith(" ready.") for message in worker) == 1
    for user in USERS:
        (access,) = [line for line in trial.of(user) if line["logger"] == "uvicorn.access"]
        (end,) = [line for line in trial.of(user) if line["event"] == "http.request.end"]
        assert access["span_id"] == end["span_id"]


def test_a_failed_tasks_traceback_is_written_once(trial: Trial) -> None:
    """The refused task's exception is on task.failed only (not on task.end, not on Celery's own
    "raised unexpected" line), and its traceback is shown once on the worker's terminal."""
    with_exception = [line for line in trial.lines if "exception" in line]
    assert [(line["event"], line["correlation_id"]) for line in with_exception] == [
        ("task.failed", trial.correlation_id(REFUSED))
    ]
    exception = with_exception[0]["exception"]
    assert (exception["type"], exception["message"]) == (
        "PermissionError",
        f"{REFUSED} opted out of notifications",
    )
    (end,) = [line for line in trial.of(REFUSED) if line["event"] == "task.end"]
    assert (end["level"], end["data"]["status"]) == ("ERROR", "error")
    assert [line for line in trial.lines if " raised unexpected: " in line["message"]] == []
    out, err = trial.worker.terminal()
    assert sum(line.strip() == "Traceback (most recent call last):" for line in out + err) == 1


def test_the_terminal_shows_the_console_view_once_and_no_json(trial: Trial) -> None:
    """Not a terminal, with a file named: the console view on stderr and JSON only in the file
    (the README's rule). No JSON line on either stream, no logged message in other text, no
    line twice on a stream, and every file line shown exactly once on the terminals (the same
    level, logger, id, message and data)."""
    messages = {line["message"] for line in trial.lines if len(line["message"]) >= 8}
    shown: Counter[tuple[str, str, str | None, str]] = Counter()
    for process in (trial.api, trial.worker):
        out, err = process.terminal()
        assert [line for line in out + err if is_json_object(line)] == [], process.name
        assert console_lines(out) == [], process.name
        # Other text (Celery's banner on stdout, Python's warnings) repeats no logged message,
        # as a second handler or uvicorn's own formatter would.
        other = [line for line in out + err if not CONSOLE_LINE.match(line)]
        assert [line for line in other if any(m in line for m in messages)] == [], process.name
        lines = console_lines(err)
        assert lines, process.name
        twice = [line for line, count in Counter(m.group(0) for m in lines).items() if count > 1]
        assert twice == [], process.name
        for match in lines:
            cid = match["cid"]
            shown[
                (match["level"], match["logger"], None if cid == "-" else cid, match["rest"])
            ] += 1
    written: Counter[tuple[str, str, str | None, str]] = Counter()
    for line in trial.lines:
        cid = line["correlation_id"]
        short = None if cid is None else (cid[:8] if _is_uuid(cid) else cid)
        data = "" if line["data"] is None else " " + orjson.dumps(line["data"]).decode()
        written[(line["level"], line["logger"], short, line["message"] + data)] += 1
    assert written == shown


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
