"""The app factory: logging configured at creation, the middleware always on, /health."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

import app.main as main_module
from agent_tracing.fastapi import LoggedExceptionFilter, RequestLoggingMiddleware
from agent_tracing.testing import CapturedEvents
from app.main import create_app
from tests.conftest import ROOT, json_lines
from tests.integrations.test_fastapi_uvicorn import free_port


def call(app: FastAPI, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get(path, headers={"X-Correlation-ID": "health-probe-1"})

    return asyncio.run(go())


def test_create_app_configures_logging_and_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """create_app() installs the JSON view from the environment and reroutes uvicorn's loggers."""
    log_file = tmp_path / "app.jsonl"
    monkeypatch.setenv("AGENT_TRACING_JSON_OUTPUT", str(log_file))
    monkeypatch.setenv("AGENT_TRACING_CONSOLE", "0")
    logging.getLogger("uvicorn").addHandler(logging.StreamHandler())  # as uvicorn's own config
    app = create_app(example_routes=True)
    assert logging.getLogger("uvicorn").handlers == []
    assert logging.getLogger("uvicorn.error").propagate
    assert any(
        isinstance(f, LoggedExceptionFilter) for f in logging.getLogger("uvicorn.error").filters
    )
    assert not logging.getLogger("uvicorn.access").propagate  # the end line replaces it
    response = call(app, "/_examples/async")
    assert response.headers["X-Correlation-ID"] == "health-probe-1"
    events = [line["event"] for line in json_lines(log_file) if line["logger"] != "httpx"]
    assert events == ["http.request.start", "example.async", "http.request.end"]


def test_the_middleware_is_always_installed() -> None:
    """The module-level app and any created app carry the request-logging middleware."""
    for app in (main_module.app, create_app(setup_logging=False)):
        assert [RequestLoggingMiddleware] == [m.cls for m in app.user_middleware]


def test_health_answers_unlogged_with_the_id(log_events: CapturedEvents) -> None:
    """GET /health answers ok with the id header and writes no request lines."""
    response = call(create_app(setup_logging=False), "/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert response.headers["X-Correlation-ID"] == "health-probe-1"
    assert [line for line in log_events.raw if line["logger"] not in ("httpx", "asyncio")] == []


def test_example_routes_are_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """/_examples is mounted only with example_routes=True or APP_EXAMPLE_ROUTES=1."""
    monkeypatch.delenv("APP_EXAMPLE_ROUTES", raising=False)
    assert call(create_app(setup_logging=False), "/_examples/async").status_code == 404
    monkeypatch.setenv("APP_EXAMPLE_ROUTES", "1")
    assert call(create_app(setup_logging=False), "/_examples/async").status_code == 200


@pytest.mark.slow
def test_python_m_app_main_serves_with_our_uvicorn_config(tmp_path: Path) -> None:
    """`python -m app.main` runs uvicorn with uvicorn_log_config: server lines in the JSON file."""
    log_file = tmp_path / "main.jsonl"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "APP_PORT": str(port),
           "AGENT_TRACING_JSON_OUTPUT": str(log_file), "AGENT_TRACING_CONSOLE": "0"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "app.main"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        response = None
        while response is None and time.monotonic() < deadline and process.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0)
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    messages = [
        line["message"] for line in json_lines(log_file) if line["logger"] == "uvicorn.error"
    ]
    assert sum(m.startswith("Uvicorn running on") for m in messages) == 1
    assert b"Uvicorn running on" not in out + err
