"""Example endpoints exercising every way a request runs code: async, sync (thread pool),
streaming, background task, client error, unhandled error, WebSocket.

Mounted under ``/_examples`` only when ``create_app(example_routes=True)`` or
``APP_EXAMPLE_ROUTES=1``: the tests and load tests drive them; production leaves them out. Each
returns the correlation id its code saw in the logging context, so a caller can check it against
the response header and the log lines.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, BackgroundTasks, HTTPException, WebSocket
from fastapi.responses import StreamingResponse

from agent_tracing import get_context_value
from app.dependencies import CorrelationId, RequestLogger
from app.util.logger import setup_logger

router = APIRouter(tags=["examples"])
log = setup_logger(__name__)


def _seen() -> dict[str, str | None]:
    return {"correlation_id": get_context_value("correlation_id")}


@router.get("/async")
async def async_endpoint() -> dict[str, str | None]:
    """An async handler that awaits and logs one line."""
    await asyncio.sleep(0)
    log.info("async handler ran", event="example.async")
    return _seen()


@router.get("/sync")
def sync_endpoint() -> dict[str, str | None]:
    """A sync handler (FastAPI runs it in the thread pool) that logs one line."""
    time.sleep(0)
    log.info("sync handler ran", event="example.sync")
    return _seen()


@router.get("/injected")
async def injected_logger(
    request_log: RequestLogger, correlation_id: CorrelationId
) -> dict[str, str | None]:
    """A handler using the request-bound logger dependency."""
    request_log.info("injected logger ran", event="example.injected")
    return {"correlation_id": correlation_id}


@router.get("/stream")
async def stream(chunks: int = 3) -> StreamingResponse:
    """A streaming response whose generator logs one line per chunk."""

    async def generate() -> AsyncIterator[bytes]:
        for index in range(chunks):
            await asyncio.sleep(0)
            log.info("chunk sent", event="example.chunk", data={"index": index})
            yield f"{get_context_value('correlation_id')}\n".encode()

    return StreamingResponse(generate(), media_type="text/plain")


@router.get("/stream-sync")
def stream_sync(chunks: int = 3) -> StreamingResponse:
    """A streaming response from a sync generator (iterated in the thread pool)."""

    def generate() -> Iterator[bytes]:
        for index in range(chunks):
            log.info("chunk sent", event="example.chunk", data={"index": index})
            yield f"{get_context_value('correlation_id')}\n".encode()

    return StreamingResponse(generate(), media_type="text/plain")


def _background_job(label: str) -> None:
    log.info("background task ran", event="example.background", data={"label": label})


async def _async_background_job(label: str) -> None:
    await asyncio.sleep(0)
    log.info("async background task ran", event="example.background", data={"label": label})


@router.post("/background")
async def background(tasks: BackgroundTasks) -> dict[str, str | None]:
    """Schedules a sync and an async background task, which log after the response is sent."""
    tasks.add_task(_background_job, "sync")
    tasks.add_task(_async_background_job, "async")
    return _seen()


@router.get("/status/{code}")
async def status(code: int) -> dict[str, str | None]:
    """Answers with the given error status (an ``HTTPException``)."""
    raise HTTPException(status_code=code, detail=f"status {code} requested")


@router.get("/error")
async def error() -> dict[str, str]:
    """Raises an unhandled exception (the client gets a 500)."""
    log.info("about to fail", event="example.error")
    raise RuntimeError("example failure")


@router.get("/error-sync")
def error_sync() -> dict[str, str]:
    """Raises an unhandled exception in a thread-pool handler."""
    raise ValueError("example failure in a thread")


@router.websocket("/ws")
async def websocket_echo(websocket: WebSocket) -> None:
    """Echoes one text message, prefixed with the correlation id the handler saw."""
    await websocket.accept()
    text = await websocket.receive_text()
    log.info("websocket message", event="example.websocket")
    await websocket.send_text(f"{get_context_value('correlation_id')} {text}")
    await websocket.close()
