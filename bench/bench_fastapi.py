"""FastAPI middleware benchmark: throughput of a trivial endpoint, ours beside the anchors.

``GET /ping`` logs one line through the configured JSON file handler; requests go in-process
through httpx's ``ASGITransport`` (as the research figures were measured), one after the other;
the client's own ``httpx`` log line is silenced in every case.
Cases: no middleware; ours (``RequestLoggingMiddleware``: id, span, start and end lines to the same
JSON file); asgi-correlation-id (sets an id only, logs nothing); a ``BaseHTTPMiddleware`` doing
our work (id, header, the same span with the same start and end fields); and, to show what the
start line costs, ours with the start line below the logger's level. Rounds are interleaved across
cases so noise on the machine hits every case alike; medians are reported, by the wall clock and by
the process's CPU time, and each case's ratio to no middleware (the median of per-round ratios).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
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
from agent_tracing.fastapi import (
    DEFAULT_REDACTED_HEADERS,
    RequestLoggingMiddleware,
    is_valid_correlation_id,
)

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


def ours_end_line_only() -> FastAPI:
    app = base_app()
    app.add_middleware(RequestLoggingMiddleware, start_level="DEBUG")  # below INFO: not built
    return app


def asgi_correlation_id() -> FastAPI:
    app = base_app()
    app.add_middleware(CorrelationIdMiddleware)
    return app


class LoggingHTTPMiddleware(BaseHTTPMiddleware):
    """Our middleware's work the BaseHTTPMiddleware way (the costly pattern to compare with): the
    same id handling, span, start fields (redacted headers and query) and end fields."""

    log = at.get_logger("bench.http")

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        header = request.headers.get("x-correlation-id")
        cid = header if header and is_valid_correlation_id(header) else at.new_correlation_id()
        request.state.correlation_id = cid
        is_secret = at.get_sanitizer().redactor.is_secret_key
        headers = {
            key: "[REDACTED]" if key in DEFAULT_REDACTED_HEADERS or is_secret(key) else value
            for key, value in request.headers.items()
        }
        client = request.client
        span = at.Span(
            f"{request.method} {request.url.path}",
            "http.request",
            logger=self.log,
            data={
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query or None,
                "client": f"{client.host}:{client.port}" if client else None,
                "user_agent": request.headers.get("user-agent"),
                "headers": headers,
            },
            correlation_id=cid,
        ).start()
        try:
            response = await call_next(request)
        except Exception as exc:
            span.finish(exc)
            raise
        status = response.status_code
        span.finish(
            status="error" if status >= 500 else "ok",
            level=40 if status >= 500 else (30 if status >= 400 else 20),
            message=f"{span.name} {status}",
            data={
                "status_code": status,
                "response_size": int(response.headers.get("content-length", 0)),
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
    "ours, end line only (start_level=DEBUG)": ours_end_line_only,
}


async def throughput(app: FastAPI) -> tuple[float, float]:
    """Requests per second over REQUESTS sequential requests (after a warm-up): by the wall clock,
    and by this process's CPU time (far less moved by other work on a shared machine)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(100):
            await client.get("/ping")
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(REQUESTS):
            response = await client.get("/ping")
            if response.status_code != 200:  # pragma: no cover - a broken case must not count
                raise RuntimeError(f"/ping answered {response.status_code}")
        return REQUESTS / (time.perf_counter() - wall), REQUESTS / (time.process_time() - cpu)


def one(name: str, factory: Callable[[], FastAPI]) -> tuple[float, float]:
    at.configure_logging(
        console=False,
        json_output=os.path.join(TMP, f"{name.split(maxsplit=1)[0].strip(',')}.jsonl"),
        level="INFO",
    )
    # The test client's own "HTTP Request" line is not the server's work: keep it out of every case.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return asyncio.run(throughput(factory()))
    finally:
        at.shutdown_logging()


def main() -> None:
    wall: dict[str, list[float]] = {name: [] for name in CASES}
    cpu: dict[str, list[float]] = {name: [] for name in CASES}
    for repeat in range(REPEATS + 1):
        for name, factory in CASES.items():
            by_wall, by_cpu = contextvars.copy_context().run(one, name, factory)
            if repeat:  # the first round only warms up
                wall[name].append(by_wall)
                cpu[name].append(by_cpu)

    def ratios(samples: dict[str, list[float]]) -> dict[str, float]:
        # Each round's ratio to that same round's no-middleware figure, then the median: a slow
        # spell of the machine that spans a round moves both sides of the ratio alike.
        base = samples["no middleware"]
        return {
            name: statistics.median(v / b for v, b in zip(values, base, strict=True))
            for name, values in samples.items()
        }

    wall_ratio, cpu_ratio = ratios(wall), ratios(cpu)
    print(
        f"\nFastAPI GET /ping logging one line, in-process httpx ASGITransport, {REPEATS} "
        f"interleaved rounds of {REQUESTS} requests, {time.strftime('%Y-%m-%d')}; medians; "
        f"ratios are to no middleware, per round"
    )
    print("| case | req/s (wall) | ratio (wall) | req/s (CPU time) | ratio (CPU time) |")
    print("|---|---|---|---|---|")
    for name in CASES:
        print(
            f"| {name} | {statistics.median(wall[name]):,.0f} | {wall_ratio[name]:.2f} | "
            f"{statistics.median(cpu[name]):,.0f} | {cpu_ratio[name]:.2f} |"
        )
    print(
        f"\nours / no middleware: {wall_ratio['ours']:.2f} wall, {cpu_ratio['ours']:.2f} CPU time "
        "(target >= 0.90)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
