"""Secret query parameters, percent-encoded or bracketed, are redacted in the three lines that
carry a request's query: the middleware's start line, uvicorn's access line and httpx's
``HTTP Request`` line."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI
from starlette.testclient import TestClient

from agent_tracing.fastapi import RequestLoggingMiddleware
from agent_tracing.testing import capture_events

SECRETS = {"api%5Fkey": "qsA1111", "user[password]": "qsB2222", "user%5Bpassword%5D": "qsC3333"}
QUERY = "&".join(f"{name}={value}" for name, value in SECRETS.items()) + "&user%5bpassword%5d=qsD4"


def test_middleware_and_httpx_lines() -> None:
    """The middleware's start line and httpx's request line show none of the values."""
    app = FastAPI()
    app.add_middleware(RequestLoggingMiddleware)

    @app.get("/q")
    async def q() -> dict[str, str]:
        return {}

    with capture_events(logging.DEBUG) as captured, TestClient(app) as client:
        assert client.get(f"/q?{QUERY}").status_code == 200
    lines = captured.raw
    dumped = orjson.dumps(lines).decode()
    assert [value for value in (*SECRETS.values(), "qsD4") if value in dumped] == []
    assert any(line["event"] == "http.request.start" for line in lines)
    assert any(line["message"].startswith("HTTP Request: GET") for line in lines)


def test_uvicorn_access_line() -> None:
    """uvicorn's access line (its own format and arguments) shows none of the values."""
    access = logging.getLogger("uvicorn.access")
    disabled, access.disabled = access.disabled, False  # an earlier test may have turned it off
    try:
        with capture_events(logging.INFO, logger="uvicorn.access") as captured:
            access.info(
                '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/q?{QUERY}", "1.1", 200
            )
    finally:
        access.disabled = disabled
    message = captured.raw[-1]["message"]
    assert [value for value in (*SECRETS.values(), "qsD4") if value in message] == []
    assert message.startswith('127.0.0.1:5000 - "GET /q?api%5Fkey=[REDACTED]&')
