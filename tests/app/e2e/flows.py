"""A user of the running API, and readers of the stack's JSON lines (end-to-end tests)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.auth import mint_dev_token

#: Loggers whose lines carry no request context by design: server and worker start and stop,
#: and Celery's "Task ... received" line, logged by the worker's main process before the run.
CONTEXTLESS_LOGGERS = ("uvicorn.error", "celery.", "kombu.", "numexpr.")


@dataclass
class User:
    """A user of the API: a development token and the requests made, by correlation id."""

    base_url: str
    user_id: str
    data_dir: Path
    token: str = ""
    responses: list[httpx.Response] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.token = mint_dev_token(self.user_id, data_dir=self.data_dir)

    def call(
        self, method: str, path: str, *, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        """One request with the user's token (or ``token``, "" for none)."""
        value = self.token if token is None else token
        headers = {"Authorization": f"Bearer {value}"} if value else {}
        response = httpx.request(
            method, f"{self.base_url}{path}", headers=headers, timeout=90, **kw
        )
        self.responses.append(response)
        return response

    def create_strategy(self, prompt: str) -> httpx.Response:
        """``POST /strategies``."""
        return self.call("POST", "/strategies", json={"prompt": prompt})

    def backtest(
        self, strategy_id: int, timeout: float = 120.0
    ) -> tuple[httpx.Response, dict[str, Any]]:
        """Start a backtest and poll until it ends; the POST's response and the last status."""
        started = self.call("POST", f"/strategies/{strategy_id}/backtests", json={})
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1.0)
            status: dict[str, Any] = self.call("GET", f"/backtests/{started.json()['id']}").json()
            if status["status"] in ("finished", "failed"):
                return started, status
        raise TimeoutError(f"backtest {started.json()['id']} did not end in {timeout} s")


def cid(response: httpx.Response) -> str:
    """The correlation id the API answered with."""
    return response.headers["X-Correlation-ID"]


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of the file (both processes)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def of(lines: list[dict[str, Any]], correlation_id: str) -> list[dict[str, Any]]:
    """The lines of one operation."""
    return [line for line in lines if line["correlation_id"] == correlation_id]


def orphans(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines whose ``parent_span_id`` names no span of the same operation."""
    spans = {line["span_id"] for line in lines if line["span_id"]}
    return [
        line for line in lines if line["parent_span_id"] and line["parent_span_id"] not in spans
    ]


def events(lines: list[dict[str, Any]]) -> set[str]:
    """The event names of ``lines``."""
    return {line["event"] for line in lines if line["event"]}
