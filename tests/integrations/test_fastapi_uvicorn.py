"""The app under a real uvicorn server on 127.0.0.1: uvicorn's lines in our schema, once each,
with the request's correlation id; the access line kept or left out on purpose."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import agent_tracing as at
from agent_tracing.fastapi import RequestLoggingMiddleware, uvicorn_log_config
from agent_tracing.testing import CapturedEvents
from tests.conftest import ROOT, json_lines

pytestmark = pytest.mark.slow

CID = "6f2c8a1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1 (released for the server to take)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base_url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited early with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("uvicorn did not answer /health in time")


@contextlib.contextmanager
def serve(tmp_path: Path, **env: str) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """Run ``uvicorn app.main:app`` (the command the docs give) with the JSON view in a file."""
    log_file = tmp_path / "web.jsonl"
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "AGENT_TRACING_JSON_OUTPUT": str(log_file),
            "AGENT_TRACING_CONSOLE": "0",
            "APP_EXAMPLE_ROUTES": "1",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process)
        yield f"http://127.0.0.1:{port}", log_file, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                process.kill()
                process.wait()


def play(base_url: str) -> dict[str, httpx.Response]:
    """One request of each outcome, each with its own id."""
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        return {
            "ok": client.get("/_examples/async", headers={"X-Correlation-ID": f"ok-{CID}"}),
            "error": client.get("/_examples/error", headers={"X-Correlation-ID": f"error-{CID}"}),
            "missing": client.get("/_examples/status/404", headers={"X-Request-ID": f"nf-{CID}"}),
            "stream": client.get("/_examples/stream", headers={"X-Correlation-ID": f"st-{CID}"}),
            "sync": client.get("/_examples/sync"),
        }


def stop(process: subprocess.Popen[bytes]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    return out.decode(errors="replace"), err.decode(errors="replace")


def test_uvicorn_lines_come_out_once_in_the_schema(tmp_path: Path) -> None:
    """`uvicorn app.main:app`: server lines in our JSON once, each request's lines with its id,
    one traceback for a 500, no access line (the end line replaces it), nothing on uvicorn's own
    handlers."""
    with serve(tmp_path) as (base_url, log_file, process):
        responses = play(base_url)
        out, err = stop(process)
    assert responses["ok"].status_code == 200
    assert (500, f"error-{CID}") == (
        responses["error"].status_code,
        responses["error"].headers["X-Correlation-ID"],
    )
    # The 404 request sent X-Request-ID: answered under X-Request-ID only.
    assert (f"nf-{CID}", None) == (
        responses["missing"].headers["X-Request-ID"],
        responses["missing"].headers.get("X-Correlation-ID"),
    )
    lines = json_lines(log_file)
    assert all(list(line)[:13] == list(at.SCHEMA_KEYS) for line in lines)
    server = [line["message"] for line in lines if line["logger"].startswith("uvicorn")]
    for expected in ("Started server process", "Application startup complete",
                     "Uvicorn running on", "Shutting down", "Finished server process"):  # fmt: skip
        assert sum(message.startswith(expected) for message in server) == 1, expected
    assert not any("Exception in ASGI application" in message for message in server)
    assert [line for line in lines if line["logger"] == "uvicorn.access"] == []
    assert "Started server process" not in out + err  # uvicorn's own handlers are gone
    with_traceback = [line for line in lines if "exception" in line]
    assert [f"error-{CID}"] == [line["correlation_id"] for line in with_traceback]
    for name, response in responses.items():
        cid = response.headers.get("X-Correlation-ID") or response.headers["X-Request-ID"]
        mine = [line for line in lines if line["correlation_id"] == cid]
        events = [line["event"] for line in mine]
        assert events[0] == "http.request.start", name
        assert events[-1] == "http.request.end", name
        assert len({line["span_id"] for line in mine}) == 1, name
    stream = [line for line in lines if line["correlation_id"] == f"st-{CID}"]
    assert sum(line["event"] == "example.chunk" for line in stream) == 3


def test_the_access_line_carries_the_request_id_when_kept(tmp_path: Path) -> None:
    """APP_ACCESS_LOG=1: uvicorn's access line comes once per request, in our schema, with the
    request's correlation id and span (it is written inside the request)."""
    with serve(tmp_path, APP_ACCESS_LOG="1") as (base_url, log_file, process):
        responses = play(base_url)
        stop(process)
    lines = json_lines(log_file)
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    for name, response in responses.items():
        cid = response.headers.get("X-Correlation-ID") or response.headers["X-Request-ID"]
        mine = [line for line in access if line["correlation_id"] == cid]
        assert len(mine) == 1, name
        end = next(line for line in lines if line["correlation_id"] == cid and
                   line["event"] == "http.request.end")  # fmt: skip
        assert end["span_id"] == mine[0]["span_id"]
        assert str(response.status_code) in mine[0]["message"]
    assert [line for line in access if line["correlation_id"] is None and
                  "/health" not in line["message"]] == []  # fmt: skip


def tiny_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestLoggingMiddleware)

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom under uvicorn")

    return app


def test_uvicorn_log_config_routes_uvicorn_through_our_handlers(log_events: CapturedEvents) -> None:
    """uvicorn.run(log_config=uvicorn_log_config(access_log=True)) with any app: the access
    line carries the id, uvicorn's copy of an exception the middleware logged is dropped."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(tiny_app(), log_config=uvicorn_log_config(access_log=True))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            ok = client.get("/ok", headers={"X-Correlation-ID": CID})
            boom = client.get("/boom")
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
    assert ok.headers["X-Correlation-ID"] == CID
    assert boom.status_code == 500
    lines: list[dict[str, Any]] = log_events.raw
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert [CID, boom.headers["X-Correlation-ID"]] == [line["correlation_id"] for line in access]
    assert sum("exception" in line for line in lines) == 1
    assert not any(line["message"].startswith("Exception in ASGI") for line in lines)
    assert any(line["message"].startswith("Application startup complete") for line in lines)
