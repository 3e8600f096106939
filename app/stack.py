"""The GenTrade stack as processes: the API under uvicorn and a Celery worker, sharing one data dir.

``make demo`` and the end-to-end tests start the same two processes the way an operator would::

    with Stack(data_dir=Path(".demo"), log_file=Path("logs/demo.jsonl")) as stack:
        httpx.get(f"{stack.base_url}/health")

Both processes read the same settings (``GENTRADE_DATA_DIR``: the SQLite file, the embedded
broker's folder, Freqtrade's ``user_data``, the development key pair) and append their JSON lines
to one file (``AGENT_TRACING_JSON_OUTPUT``; the core writes whole lines, so lines of the two
processes never interleave mid-line). Their coloured console lines go to this process's stderr as
they happen. ``CELERY_BROKER_URL`` / ``DATABASE_URL`` in the environment switch both to Redis or
RabbitMQ and PostgreSQL. Leaving the ``with`` block (also on an exception or Ctrl-C) stops both
process groups: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

__all__ = ["Stack", "StackError", "free_port"]


class StackError(RuntimeError):
    """A process of the stack did not start, or died."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS has just given out on ``host`` (free unless someone takes it meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Stack:
    """The API and a worker as subprocesses (see the module docstring).

    Args:
        data_dir: The shared data directory (``GENTRADE_DATA_DIR``).
        log_file: Where both processes append their JSON lines.
        env: More environment variables for both processes (they win over this process's).
        worker_pool: Celery pool (``solo``: one task at a time; ``prefork`` with ``concurrency``).
        concurrency: Pool processes of a prefork worker.
        console: Where the processes' console (stderr) goes: inherited (None) or a file.
        color: Force coloured console lines.
        start_timeout: Seconds to wait for the API to answer ``/health``.
    """

    def __init__(
        self,
        data_dir: Path,
        log_file: Path,
        *,
        env: Mapping[str, str] | None = None,
        worker_pool: str = "solo",
        concurrency: int = 1,
        console: IO[str] | None = None,
        color: bool = False,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.log_file = log_file.resolve()
        self.host = "127.0.0.1"
        self.port = 0
        self.worker_pool = worker_pool
        self.concurrency = concurrency
        self.console = console
        self.start_timeout = start_timeout
        self.env = {
            **os.environ,
            "GENTRADE_DATA_DIR": str(self.data_dir),
            "AGENT_TRACING_JSON_OUTPUT": str(self.log_file),
            "AGENT_TRACING_CONSOLE_STREAM": "stderr",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        if color:
            self.env["FORCE_COLOR"] = "1"
            self.env.pop("NO_COLOR", None)
        self.env.pop("CELERY_DATA_DIR", None)  # the broker lives under the data dir
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The API's address."""
        return f"http://{self.host}:{self.port}"

    def _spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        # A session of its own: the whole group (a prefork worker's children too) is stopped
        # together, and a Ctrl-C in the terminal reaches only us, which stop them in order.
        return subprocess.Popen(
            [sys.executable, *args],
            env=self.env,
            cwd=os.getcwd(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.console,
            start_new_session=True,
        )

    def start(self) -> Stack:
        """Start the worker and the API; return when the API answers ``/health``.

        Raises:
            StackError: A process exited, or the API did not answer in time.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        worker = ["-m", "celery", "-A", "app.worker", "worker", "--loglevel", "INFO"]
        worker += ["--pool", self.worker_pool, "--without-gossip", "--without-mingle"]
        if self.worker_pool == "prefork":
            worker += ["--concurrency", str(self.concurrency)]
        self.worker = self._spawn(worker)
        self.port = free_port(self.host)
        self.web = self._spawn(
            ["-m", "uvicorn", "app.main:app", "--host", self.host, "--port", str(self.port)]
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            self.check()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                raise StackError(f"the API did not answer on {self.base_url} in time")
            time.sleep(0.25)

    def check(self) -> None:
        """Raise :class:`StackError` if a process of the stack has exited."""
        for name, process in (("web", self.web), ("worker", self.worker)):
            if process is not None and process.poll() is not None:
                raise StackError(f"the {name} process exited with {process.returncode}")

    def stop(self, grace: float = 15.0) -> None:
        """Stop both processes (SIGTERM to each group, SIGKILL after ``grace`` seconds)."""
        processes = [p for p in (self.web, self.worker) if p is not None]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            # Pool children left behind by a killed parent share its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        self.web = self.worker = None

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
