"""Shared fixtures: a clean context for every test, JSON snapshots under snapshots/."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from syrupy.location import PyTestLocation

import agent_tracing as at
from agent_tracing.context import _CONTEXT

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
REQUIRE_SERVICES = os.environ.get("AGENT_TRACING_REQUIRE_SERVICES") == "1"


class ProjectJSONSnapshot(JSONSnapshotExtension):
    """JSON snapshots in ``snapshots/<test module path>/<test name>.json``, keys sorted."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        module = Path(test_location.filepath).resolve().relative_to(TESTS).with_suffix("")
        return str(ROOT / "snapshots" / module)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Syrupy's snapshot fixture, writing JSON under the top-level ``snapshots/`` folder."""
    return snapshot.use_extension(ProjectJSONSnapshot)


@pytest.fixture(autouse=True)
def clean_context() -> Iterator[None]:
    """Every test starts from an empty context and leaves none behind."""
    token = _CONTEXT.set({})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    """Remove what a test's ``configure_logging`` installed, and restore root's level."""
    root = logging.getLogger()
    level = root.level
    try:
        yield
    finally:
        at.shutdown_logging()
        root.setLevel(level)


def service_available(host: str, port: int) -> bool:
    """Whether something listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (on a laptop) or fail (in CI, AGENT_TRACING_REQUIRE_SERVICES=1) without the service."""
    if service_available(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and AGENT_TRACING_REQUIRE_SERVICES=1 requires it")
    pytest.skip(f"{message} (set up the service, or run in CI where it is required)")


@pytest.fixture
def redis_url() -> str:
    """A Redis URL on 127.0.0.1 (skips or fails as :func:`require_service` says)."""
    require_service("Redis", "127.0.0.1", 6379)
    return "redis://127.0.0.1:6379/0"


@pytest.fixture
def rabbitmq_url() -> str:
    """A RabbitMQ URL on 127.0.0.1."""
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture
def postgres_url() -> str:
    """A PostgreSQL URL on 127.0.0.1 (trust auth, database ``test``)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Parse a JSON-lines file; every line must be one JSON object."""
    import orjson

    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
