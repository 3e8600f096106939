"""Fixtures for the viewer: the committed operation logs, a freshly logged one, the binaries."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from tests.conftest import ROOT
from tests.viewer.chromium import find_binary

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTIFACTS = ROOT / "artifacts" / "viewer"


@dataclass(frozen=True)
class LoggedOperation:
    """Log files of one operation across two processes, and its correlation id."""

    directory: Path
    correlation_id: str

    @property
    def files(self) -> list[str]:
        """The API process's file and the worker process's file."""
        return [str(self.directory / "api.jsonl"), str(self.directory / "worker.jsonl")]


def run_scenario(directory: Path) -> LoggedOperation:
    """Run ``tests.viewer.scenario`` in fresh processes; return what it logged."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.viewer.scenario", str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return LoggedOperation(directory, done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def live_operation(tmp_path_factory: pytest.TempPathFactory) -> LoggedOperation:
    """An operation logged just now by the core in two processes (API and worker)."""
    return run_scenario(tmp_path_factory.mktemp("operation"))


@pytest.fixture
def committed_operation() -> LoggedOperation:
    """The committed fixture logs (``tests/viewer/fixtures``), made by the same scenario."""
    first = (FIXTURES / "api.jsonl").read_text().splitlines()[0]
    return LoggedOperation(FIXTURES, orjson.loads(first)["correlation_id"])


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium (skips without it, fails when AGENT_TRACING_REQUIRE_SERVICES=1)."""
    return find_binary("chromium", "chromium-browser", "google-chrome")


@pytest.fixture
def lnav() -> str:
    """Debian's lnav (skips without it, fails when AGENT_TRACING_REQUIRE_SERVICES=1)."""
    return find_binary("lnav")


@pytest.fixture
def artifacts() -> Path:
    """Where tests keep what people look at afterwards (``artifacts/viewer``, git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
