"""A secret-shaped client correlation id is rejected, so the logged and returned ids agree."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from agent_tracing.fastapi import RequestLoggingMiddleware
from agent_tracing.testing import CapturedEvents
from app.main import create_app

CLIENT_HEADERS = {"User-Agent": "tests/1.0", "Accept-Encoding": "identity"}
SECRET_IDS = [
    "sk-abcdefghijklmnopqrstuvwxyz012345",
    "sk-proj-abcdefghij0123456789ABCD",
    "AKIAIOSFODNN7EXAMPLE",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZw",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
]


async def _get(headers: dict[str, str]) -> httpx.Response:
    app = create_app(setup_logging=False, example_routes=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=CLIENT_HEADERS
    ) as client:
        return await client.get("/_examples/async", headers=headers)


def _app_lines(log_events: CapturedEvents) -> list[dict[str, object]]:
    return [line for line in log_events.raw if line["logger"] not in ("httpx", "asyncio")]


@pytest.mark.parametrize("header", ["X-Correlation-ID", "X-Request-ID"])
@pytest.mark.parametrize("secret", SECRET_IDS)
def test_a_secret_shaped_id_is_replaced_and_warned(
    log_events: CapturedEvents, header: str, secret: str
) -> None:
    """A client id the redactor would hide is replaced by a new one, logged and returned alike."""
    response = asyncio.run(_get({header: secret}))
    cid = response.headers[header]
    assert uuid.UUID(cid).version == 4
    assert {"correlation_id": cid} == response.json()
    assert {cid} == {line["correlation_id"] for line in _app_lines(log_events)}
    (warning,) = log_events.by_event("http.correlation_id.rejected")
    assert ("WARNING", cid, header) == (
        warning["level"],
        warning["correlation_id"],
        warning["data"]["header"],
    )
    assert secret not in json.dumps(log_events.raw)
    assert secret not in str(response.headers)


def test_a_safe_id_that_merely_contains_sk_is_kept(log_events: CapturedEvents) -> None:
    """Ordinary ids (short prefixes, UUIDs, words like 'task') still pass unchanged."""
    for value in ("sk-42", "task-0f8fad5b", "AKIA", str(uuid.uuid4())):
        response = asyncio.run(_get({"X-Correlation-ID": value}))
        assert value == response.headers["X-Correlation-ID"]
    assert log_events.by_event("http.correlation_id.rejected") == []


def test_a_custom_validator_cannot_let_a_secret_through(log_events: CapturedEvents) -> None:
    """Even a validator that accepts everything does not get a secret echoed back."""
    from fastapi import FastAPI

    app = FastAPI()
    app.add_middleware(RequestLoggingMiddleware, validator=lambda value: True)

    @app.get("/x")
    async def route() -> dict[str, str]:
        return {"ok": "yes"}

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/x", headers={"X-Correlation-ID": SECRET_IDS[0]})

    response = asyncio.run(call())
    cid = response.headers["X-Correlation-ID"]
    assert SECRET_IDS[0] != cid
    assert {cid} == {line["correlation_id"] for line in _app_lines(log_events)}
