"""Many concurrent requests through the middleware: no line carries another request's id."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import StreamingResponse

import agent_tracing as at
from agent_tracing.fastapi import RequestLoggingMiddleware
from agent_tracing.testing import CapturedEvents

REQUESTS = 500
KINDS = ("async", "sync", "stream", "background")
log = at.get_logger("tests.load")


def load_app() -> FastAPI:
    """Endpoints of each kind that yield to the others and log the request number they serve."""
    app = FastAPI()
    app.add_middleware(RequestLoggingMiddleware)

    def seen(n: int) -> dict[str, Any]:
        return {"n": n, "correlation_id": at.get_context_value("correlation_id")}

    @app.get("/async")
    async def async_route(n: int) -> dict[str, Any]:
        log.info("before await", data={"n": n})
        await asyncio.sleep(0.001 * (n % 4))
        log.info("after await", data={"n": n})
        return seen(n)

    @app.get("/sync")
    def sync_route(n: int) -> dict[str, Any]:
        log.info("in a thread", data={"n": n})
        time.sleep(0.001 * (n % 3))
        log.info("still in the thread", data={"n": n})
        return seen(n)

    @app.get("/stream")
    async def stream_route(n: int) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for index in range(2):
                await asyncio.sleep(0)
                log.info("chunk", data={"n": n, "index": index})
                yield f"{at.get_context_value('correlation_id')}\n".encode()

        return StreamingResponse(chunks())

    @app.get("/background")
    async def background_route(n: int, tasks: BackgroundTasks) -> dict[str, Any]:
        async def later() -> None:
            await asyncio.sleep(0.001 * (n % 2))
            log.info("background", data={"n": n})

        tasks.add_task(later)
        log.info("scheduled", data={"n": n})
        return seen(n)

    return app


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_concurrent_requests_keep_their_own_ids(log_events: CapturedEvents) -> None:
    """500 requests at once over async, sync, streaming and background-task endpoints: every
    line of a request carries that request's id and span, none another's; headers match."""
    ids = [str(uuid.uuid4()) for _ in range(REQUESTS)]
    app = load_app()

    async def one(client: httpx.AsyncClient, n: int) -> httpx.Response:
        kind = KINDS[n % len(KINDS)]
        return await client.get(f"/{kind}", params={"n": n}, headers={"X-Correlation-ID": ids[n]})

    async def everything() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://load") as client:
            return await asyncio.gather(*(one(client, n) for n in range(REQUESTS)))

    started = time.monotonic()
    responses = asyncio.run(everything())
    elapsed = time.monotonic() - started

    for n, response in enumerate(responses):
        assert (n, 200, ids[n]) == (n, response.status_code, response.headers["X-Correlation-ID"])
        if KINDS[n % len(KINDS)] == "stream":
            assert [ids[n]] * 2 == response.text.split()
        else:
            assert {"n": n, "correlation_id": ids[n]} == response.json()

    # The request path's own lines: a client library's line from another thread (a Redis client
    # an earlier test left connected reconnects at DEBUG) belongs to no request.
    lines = [
        line
        for line in log_events.raw
        if line["logger"] not in ("httpx", "asyncio") and not line["logger"].startswith("redis")
    ]
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_id[line["correlation_id"]].append(line)
    assert set(ids) == set(by_id)  # no line without an id, none with a foreign one

    handler_lines = [line for line in lines if line["logger"] == "tests.load"]
    assert len(handler_lines) == 2 * REQUESTS
    wrong = [line for line in handler_lines if line["correlation_id"] != ids[line["data"]["n"]]]
    assert wrong == []

    span_of = {}
    for cid, mine in by_id.items():
        events = Counter(line["event"] for line in mine)
        assert (events["http.request.start"], events["http.request.end"]) == (1, 1), cid
        assert len({line["span_id"] for line in mine}) == 1, cid
        span_of[cid] = mine[0]["span_id"]
        assert mine[-1]["event"] == "http.request.end"
    assert len(set(span_of.values())) == REQUESTS
    assert at.current_context() == {}
    assert elapsed < 90
