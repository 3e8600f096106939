"""The request-bound logger and correlation id dependencies."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request

from agent_tracing import BoundLogger
from agent_tracing.fastapi import RequestLoggingMiddleware
from agent_tracing.testing import CapturedEvents
from app.dependencies import CorrelationId, RequestLogger, request_logger

CID = "1d7c5a3e-2b4f-4c6d-8e9f-0a1b2c3d4e5f"
# At module level: FastAPI resolves the (string) annotations of a route in its module.
StrategiesLog = Annotated[
    BoundLogger, Depends(request_logger("app.api.routers.strategies", "StrategiesRouter"))
]


def call(app: FastAPI, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get(path, headers={"X-Correlation-ID": CID})

    return asyncio.run(go())


def test_request_logger_and_correlation_id(log_events: CapturedEvents) -> None:
    """RequestLogger logs as app.api with the request's id; CorrelationId gives the id."""
    app = FastAPI()
    app.add_middleware(RequestLoggingMiddleware)

    @app.get("/r")
    async def route(log: RequestLogger, correlation_id: CorrelationId) -> dict[str, str | None]:
        log.info("served", data={"item": 1})
        return {"correlation_id": correlation_id}

    assert call(app, "/r").json() == {"correlation_id": CID}
    (line,) = [line for line in log_events.raw if line["message"] == "served"]
    assert (line["logger"], line["correlation_id"], line["data"]) == ("app.api", CID, {"item": 1})


def test_request_logger_factory_names_the_logger_and_component(log_events: CapturedEvents) -> None:
    """request_logger(name, component) gives that logger, bound to the id and the user id
    authentication stored before it ran."""
    app = FastAPI()
    app.add_middleware(RequestLoggingMiddleware)

    async def authenticate(request: Request) -> str:
        request.state.user_id = "user_42"
        return "user_42"

    @app.get("/s", dependencies=[Depends(authenticate)])
    async def route(log: StrategiesLog) -> dict[str, str]:
        log.info("listed")
        return {}

    call(app, "/s")
    (line,) = [line for line in log_events.raw if line["message"] == "listed"]
    assert (
        line["logger"], line["component"], line["correlation_id"], line["user_id"],
    ) == ("app.api.routers.strategies", "StrategiesRouter", CID, "user_42")  # fmt: skip
    (end,) = log_events.by_event("http.request.end")
    assert end["user_id"] == "user_42"
