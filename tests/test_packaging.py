"""The distributions: what the wheel and the sdist hold, and the wheel at work in a user's project.

Both builds go through PyPA's own front-end (``python -m build``, the sdist first and the wheel from
the sdist, as a release does) in a throwaway venv, and the wheel is installed into another fresh
venv with the extras a user names: nothing is installed into the environment running the tests.
pip reaches the package index as configured (its cache keeps a second run short).
"""

from __future__ import annotations

import email.parser
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

# Only the library is installed; the reference app, its extras and freqtrade stay development-only.
EXPECTED_EXTRAS = {"all", "celery", "fastapi", "freqtrade", "langchain", "sqlalchemy"}
APP_ONLY_REQUIREMENTS = {"freqtrade", "pydantic", "pyjwt"}
EXPECTED_CLASSIFIERS = {
    "Development Status :: 4 - Beta",
    "Framework :: Celery",
    "Framework :: FastAPI",
    "Framework :: Pytest",
    "Intended Audience :: Developers",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Programming Language :: Python :: 3.13",
    "Topic :: System :: Logging",
    "Typing :: Typed",
}
# A source release: the library, its tests with what they read (the reference app they exercise,
# the snapshots, the lnav format), the docs and the top-level pages; no repository tooling.
SDIST_DIRS = {"agent_tracing", "app", "contrib", "docs", "snapshots", "tests"}
# .gitignore: the build backend keeps it so a build from the sdist skips the same files.
SDIST_FILES = {".gitignore", "LICENSE", "PKG-INFO", "pyproject.toml"}
LOCAL_ARTEFACTS = {".venv", "logs", "__pycache__", ".pytest_cache", ".mypy_cache", ".git"}


@dataclass(frozen=True)
class Dists:
    """The two built distributions."""

    wheel: Path
    sdist: Path


def run(command: list[str], *, cwd: Path | None = None, timeout: float = 300) -> str:
    """Run a command outside this checkout's paths; on failure fail the test with its output."""
    # A PYTHONPATH or an active venv pointing at the checkout would let its `app` and
    # `agent_tracing` stand in for what the wheel installed.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {done.returncode}\n{done.stdout[-4000:]}\n"
            f"{done.stderr[-4000:]}"
        )
    return done.stdout


def make_venv(path: Path, *packages: str) -> Path:
    """A fresh venv at path with the given packages installed; returns its python."""
    run([sys.executable, "-m", "venv", str(path)])
    python = path / "bin" / "python"
    if packages:
        run([str(python), "-m", "pip", "install", "--quiet", *packages])
    return python


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """The sdist and the wheel built from it, as a release builds them."""
    tools = make_venv(tmp_path_factory.mktemp("build-venv"), "build>=1.2,<2")
    out = tmp_path_factory.mktemp("dist")
    run([str(tools), "-m", "build", "--outdir", str(out), str(ROOT)])
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Dists(wheel=wheel, sdist=sdist)


def wheel_metadata(wheel: Path) -> Message:
    """The wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


def test_wheel_holds_only_the_library(dists: Dists) -> None:
    """The wheel installs `agent_tracing` (typed) and its dist-info, no top-level `app`."""
    with zipfile.ZipFile(dists.wheel) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names}
    dist_info = {entry for entry in top if entry.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert {"agent_tracing"} | dist_info == top
    assert "agent_tracing/py.typed" in names
    assert [n for n in names if "__pycache__" in n or n.endswith(".pyc")] == []


def test_wheel_metadata_keeps_app_dependencies_out(dists: Dists) -> None:
    """The extras are the integrations' and `all` pulls none of the app's or freqtrade's deps."""
    metadata = wheel_metadata(dists.wheel)
    assert set(metadata.get_all("Provides-Extra") or []) == EXPECTED_EXTRAS
    requirements = metadata.get_all("Requires-Dist") or []
    in_all = {
        req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip().lower()
        for req in requirements
        if 'extra == "all"' in req or "extra == 'all'" in req
    }
    assert in_all
    assert set() == in_all & APP_ONLY_REQUIREMENTS
    assert set() == EXPECTED_CLASSIFIERS - set(metadata.get_all("Classifier") or [])
    assert metadata["License-Expression"] == "MIT"


def test_sdist_holds_the_source_release(dists: Dists) -> None:
    """The sdist holds the library, its tests and docs, and no repository tooling or local files."""
    with tarfile.open(dists.sdist) as archive:
        members = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    top = {member.split("/")[0] for member in members}
    # Every top-level page goes out: a new one fails here until pyproject's sdist list names it.
    pages = {path.name for path in ROOT.glob("*.md")}
    assert SDIST_DIRS | SDIST_FILES | pages == top
    assert [m for m in members if LOCAL_ARTEFACTS & set(m.split("/")) or m.endswith(".pyc")] == []
    assert "tests/conftest.py" in members
    assert "agent_tracing/py.typed" in members


USER_APP = '''
"""A user's own `app` package (no __init__.py), as `uvicorn app.main:app` would load it."""

import agent_tracing as at
from fastapi import FastAPI

from agent_tracing.fastapi import RequestLoggingMiddleware

api = FastAPI()
api.add_middleware(RequestLoggingMiddleware)
log = at.get_logger("user.api")


@api.get("/hello")
def hello() -> dict[str, str]:
    log.info("said hello", event="user.hello")
    return {"hello": "world"}
'''

USER_SCRIPT = '''
"""A newcomer's first script: one call to configure, then each integration as documented."""

import sys
from typing import TypedDict

import agent_tracing as at

at.configure_logging(json_output=sys.argv[1])

from app.main import api  # the user's own package, not anything the wheel installed
from celery import Celery
from fastapi.testclient import TestClient
from langgraph.graph import END, START, StateGraph

from agent_tracing.celery import instrument_celery
from agent_tracing.langchain import LoggingCallback

with TestClient(api) as client:
    response = client.get("/hello", headers={"X-Correlation-ID": "req-http-1"})
assert 200 == response.status_code, response.text
assert "req-http-1" == response.headers["X-Correlation-ID"]


class State(TypedDict):
    n: int


def step(state: State) -> State:
    return {"n": state["n"] + 1}


builder = StateGraph(State)
builder.add_node("step", step)
builder.add_edge(START, "step")
builder.add_edge("step", END)
graph = builder.compile(name="user_graph")
with at.bind(correlation_id="req-graph-1"):
    assert {"n": 2} == graph.invoke({"n": 1}, config={"callbacks": [LoggingCallback()]})

celery = Celery("user", broker="memory://", backend="cache+memory://")
celery.conf.task_always_eager = True
instrument_celery(celery)


@celery.task(name="user.add")
def add(x: int, y: int) -> int:
    return x + y


with at.bind(correlation_id="req-task-1"):
    assert 5 == add.delay(2, 3).get()
'''


def test_wheel_works_in_a_user_project(dists: Dists, tmp_path: Path) -> None:
    """Installed with [fastapi,langchain,celery] only, the wheel logs each integration as JSON."""
    extras = "fastapi,langchain,celery"
    python = make_venv(tmp_path / "venv", f"agent-tracing[{extras}] @ {dists.wheel.as_uri()}")
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "main.py").write_text(textwrap.dedent(USER_APP))
    (project / "main.py").write_text(textwrap.dedent(USER_SCRIPT))
    events = project / "events.jsonl"

    run([str(python), "main.py", str(events)], cwd=project, timeout=120)
    run([str(tmp_path / "venv" / "bin" / "agent-tracing"), "--help"], cwd=project)

    lines = [json.loads(line) for line in events.read_text().splitlines()]
    by_correlation: dict[str | None, set[str]] = {}
    for line in lines:
        by_correlation.setdefault(line["correlation_id"], set()).add(line["event"])
    assert {"user.hello", "http.request.end"} <= by_correlation["req-http-1"]
    assert any(e.startswith("agent.graph") for e in by_correlation["req-graph-1"])
    assert any(e.startswith("task.") for e in by_correlation["req-task-1"])
    # Nothing the integrations need is missing: no import or instrumentation error was logged.
    assert [line for line in lines if line["level"] in {"ERROR", "CRITICAL"}] == []
