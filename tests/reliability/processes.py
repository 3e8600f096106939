"""Real processes for the load and fault tests: uvicorn serving the app, a prefork Celery worker,
and an asyncio client driving a mix of endpoints with one correlation id per request."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT

#: (method, path, lines the handler itself logs with the request's id)
ENDPOINTS: tuple[tuple[str, str, int], ...] = (
    ("GET", "/_examples/async", 1),
    ("GET", "/_examples/sync", 1),
    ("GET", "/_examples/stream?chunks=3", 3),
    ("GET", "/_examples/stream-sync?chunks=3", 3),
    ("POST", "/_examples/background", 2),
)


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """``uvicorn app.main:app`` (or another app) on 127.0.0.1, JSON view in ``log_file``."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_file: Path
    output: Path
    out: str = ""
    err: str = ""

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (uvicorn's graceful shutdown), then read what it wrote on stdout/stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
            self.process.kill()
            self.process.wait()
        self.out = (self.output / "stdout.txt").read_text(errors="replace")
        self.err = (self.output / "stderr.txt").read_text(errors="replace")


def start_server(
    log_file: Path,
    app: str = "app.main:app",
    timeout: float = 60,
    output: Path | None = None,
    **env: str,
) -> Server:
    """Start uvicorn in a subprocess on a free port and wait for ``/health``; its stdout and
    stderr go to files in ``output`` (default: the log file's folder), never to a pipe that
    nobody reads while it runs."""
    port = free_port()
    output = output or log_file.parent
    output.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
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
        stdout=(output / "stdout.txt").open("wb"),
        stderr=(output / "stderr.txt").open("wb"),
    )
    server = Server(process, f"http://127.0.0.1:{port}", log_file, output)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError(f"uvicorn exited with {process.returncode}: {server.err[-2000:]}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop(timeout=10)
            raise RuntimeError("uvicorn did not answer /health in time")
        time.sleep(0.1)


@dataclass
class Sent:
    """One request of the load: what was sent and what came back."""

    method: str
    path: str
    handler_lines: int
    sent_id: str | None
    status: int = 0
    response_id: str | None = None
    body_ids: list[str] = field(default_factory=list)
    error: str | None = None


async def _one(client: httpx.AsyncClient, gate: asyncio.Semaphore, sent: Sent) -> None:
    headers = {"X-Correlation-ID": sent.sent_id} if sent.sent_id else {}
    async with gate:
        for attempt in range(2):
            try:
                response = await client.request(sent.method, sent.path, headers=headers)
                break
            except httpx.RemoteProtocolError as error:
                # A kept-alive connection the server closed as the request went out: the server
                # never read it, so sending it again cannot duplicate a line (and if it did, the
                # line checks would catch it).
                sent.error = repr(error)
                if attempt:
                    return
            except httpx.HTTPError as error:
                sent.error = repr(error)
                return
    sent.status = response.status_code
    sent.response_id = response.headers.get("X-Correlation-ID")
    if "stream" in sent.path:
        sent.body_ids = response.text.split()
    else:
        sent.body_ids = [response.json()["correlation_id"]]


def plan(requests: int) -> list[Sent]:
    """``requests`` requests over :data:`ENDPOINTS`; one in 7 without a client id (the server
    makes one), spread over every endpoint (7 and 5 are coprime)."""
    out = []
    for index in range(requests):
        method, path, lines = ENDPOINTS[index % len(ENDPOINTS)]
        own = index % 7 != 0
        out.append(Sent(method, path, lines, f"load-{index}-{uuid.uuid4()}" if own else None))
    return out


def drive(base_url: str, sent: list[Sent], in_flight: int, timeout: float = 60) -> float:
    """Send every request with at most ``in_flight`` at once; return the seconds it took."""

    async def main() -> None:
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
            gate = asyncio.Semaphore(in_flight)
            await asyncio.gather(*(_one(client, gate, item) for item in sent))

    started = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - started


def check_requests(sent: list[Sent], lines: list[dict[str, Any]]) -> dict[str, int]:
    """Assert every served request has its own id everywhere and all its lines; no line of a
    request has a missing or foreign id. Returns counts for the report."""
    served = [item for item in sent if item.status == 200]
    ids = {item.response_id for item in served}
    assert len(ids) == len(served), "two requests shared an id"
    for item in served:
        if item.sent_id is not None:
            assert item.sent_id == item.response_id
        assert {item.response_id} == set(item.body_ids), item
    per_id: dict[Any, list[dict[str, Any]]] = {}
    for line in lines:
        per_id.setdefault(line["correlation_id"], []).append(line)
    request_lines = [line for line in lines if not line["logger"].startswith("uvicorn")]
    # Every application line belongs to a served request: none without an id, none foreign.
    assert [line for line in request_lines if line["correlation_id"] not in ids] == []
    for item in served:
        mine = per_id[item.response_id]
        events = [line["event"] for line in mine]
        assert events.count("http.request.start") == 1, (item, events)
        assert events.count("http.request.end") == 1, (item, events)
        handler = [e for e in events if e and e.startswith("example.")]
        assert item.handler_lines == len(handler), (item, events)
        spans = {line["span_id"] for line in mine}
        assert len(spans) == 1, (item, spans)
    return {"requests": len(served), "lines": len(lines)}


def start_worker(
    log_file: Path, broker_url: str, queue: str, concurrency: int = 2, **env: str
) -> subprocess.Popen[bytes]:
    """``celery worker -P prefork -c <concurrency>`` on ``queue``, logging in queue mode."""
    command = [
        sys.executable, "-m", "celery", "-A", "tests.reliability.stress_worker", "worker",
        "-P", "prefork", "-c", str(concurrency), "-Q", queue,
        "-n", f"stress-{uuid.uuid4().hex[:8]}@%h", "-l", "INFO",
        "--without-heartbeat", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": broker_url,
            "AGENT_TRACING_JSON_OUTPUT": str(log_file),
            "AGENT_TRACING_CONSOLE": "0",
            "AGENT_TRACING_QUEUE": "1",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=(log_file.parent / f"worker-{uuid.uuid4().hex[:6]}.err").open("wb"),
        start_new_session=True,
    )


def stop_worker(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM (warm shutdown), SIGKILL to the group past ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
