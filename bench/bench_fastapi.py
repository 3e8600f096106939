"""FastAPI middleware benchmark: throughput of a trivial endpoint, ours beside the anchors.

``GET /ping`` logs one line through the configured JSON file handler; requests go in-process
through httpx's ``ASGITransport`` (as the research figures were measured), one after the other.
Cases: no middleware; ours (``RequestLoggingMiddleware``: id, span, start and end lines to the same
JSON file); asgi-correlation-id (sets an id only, logs nothing); a ``BaseHTTPMiddleware`` doing
our work (id, header, start and end lines). Rounds are interleaved across cases so noise on the
machine hits every case alike; the median requests per second is reported, and each case's ratio
to no middleware.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import httpx
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI, Request, Response
from starlette.middleware.base import BaseHTTPMiddleware

import agent_tracing as at
from agent_tracing.fastapi import RequestLoggingMiddleware, is_valid_correlation_id

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1500"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
TMP = tempfile.mkdtemp(prefix="at-bench-fastapi-")


def base_app() -> FastAPI:
    app = FastAPI()
    log = at.get_logger("bench.ping")

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        log.info("ping", data={"pong": True})
        return {"ping": "pong"}

    return app


def no_middleware() -> FastAPI:
    return base_app()


def ours() -> FastAPI:
    app = base_app()
    app.add_middleware(RequestLoggingMiddleware)
    return app


def asgi_correlation_id() -> FastAPI:
    app = base_app()
    app.add_middleware(CorrelationIdMiddleware)
    return app


class LoggingHTTPMiddleware(BaseHTTPMiddleware):
    """Our middleware's work, the BaseHTTPMiddleware way (the costly pattern to compare with)."""

    log = at.get_logger("bench.http")

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        header = request.headers.get("x-correlation-id")
        cid = header if header and is_valid_correlation_id(header) else at.new_correlation_id()
        request.state.correlation_id = cid
        started = time.perf_counter()
        with at.bind(correlation_id=cid):
            self.log.info(
                "request started",
                event="http.request.start",
                data={"method": request.method, "path": request.url.path},
            )
            response = await call_next(request)
            self.log.info(
                "request finished",
                event="http.request.end",
                data={
                    "status_code": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
        response.headers["X-Correlation-ID"] = cid
        return response


def base_http_middleware() -> FastAPI:
    app = base_app()
    app.add_middleware(LoggingHTTPMiddleware)
    return app


CASES: dict[str, Callable[[], FastAPI]] = {
    "no middleware": no_middleware,
    "ours": ours,
    "asgi-correlation-id": asgi_correlation_id,
    "BaseHTTPMiddleware doing our work": base_http_middleware,
}


async def throughput(app: FastAPI) -> float:
    """Requests per second over REQUESTS sequential requests (after a warm-up)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(100):
            await client.get("/ping")
        start = time.perf_counter()
        for _ in range(REQUESTS):
            response = await client.get("/ping")
            if response.status_code != 200:  # pragma: no cover - a broken case must not count
                raise RuntimeError(f"/ping answered {response.status_code}")
        return REQUESTS / (time.perf_counter() - start)


def one(name: str, factory: Callable[[], FastAPI]) -> float:
    at.configure_logging(
        console=False,
        json_output=os.path.join(TMP, f"{name.split(maxsplit=1)[0]}.jsonl"),
        level="INFO",
    )
    try:
        return asyncio.run(throughput(factory()))
    finally:
        at.shutdown_logging()


def main() -> None:
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for repeat in range(REPEATS + 1):
        for name, factory in CASES.items():
            value = contextvars.copy_context().run(one, name, factory)
            if repeat:  # the first round only warms up
                samples[name].append(value)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    # Each round's ratio to that same round's no-middleware figure, then the median: a slow spell
    # of the machine that spans a round moves both sides of the ratio alike.
    base_runs = samples["no middleware"]
    ratios = {
        name: statistics.median(v / b for v, b in zip(values, base_runs, strict=True))
        for name, values in samples.items()
    }
    print(
        f"\nFastAPI GET /ping logging one line, in-process httpx ASGITransport: median requests/s "
        f"over {REPEATS} interleaved rounds of {REQUESTS} requests, {time.strftime('%Y-%m-%d')}"
    )
    print("| case | req/s | µs/request | ratio to no middleware (median of rounds) |")
    print("|---|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:,.0f} | {1e6 / value:.0f} | {ratios[name]:.2f} |")
    print(f"\nours / no middleware: {ratios['ours']:.2f} (target >= 0.90)")
    print(f"ours / asgi-correlation-id: {ratios['ours'] / ratios['asgi-correlation-id']:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
