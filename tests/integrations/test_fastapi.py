"""The request-logging middleware through real FastAPI apps over httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from starlette.testclient import TestClient
from syrupy.assertion import SnapshotAssertion

import agent_tracing as at
from agent_tracing.fastapi import (
    LoggedExceptionFilter,
    RequestLoggingMiddleware,
    get_correlation_id,
    is_valid_correlation_id,
    logger_for_request,
)
from agent_tracing.testing import CapturedEvents
from app.main import create_app

CID = "0f8fad5b-d9cb-469f-a165-70867728950e"
CLIENT_HEADERS = {"User-Agent": "tests/1.0", "Accept-Encoding": "identity"}


def real_app() -> FastAPI:
    """The GenTrade app with its example routes (logging is captured by the test)."""
    return create_app(setup_logging=False, example_routes=True)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def request(
    app: Any,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    raise_app_exceptions: bool = False,
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    # Fixed client headers: snapshots must not change with httpx's version or extras.
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=CLIENT_HEADERS
    ) as client:
        return await client.request(method, path, headers=headers)


def get(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    return run(request(app, "GET", path, **kwargs))


CLIENT_SIDE = ("httpx", "asyncio")  # the test client's own lines, not the app's


def request_lines(log_events: CapturedEvents) -> list[dict[str, Any]]:
    """Captured lines of the app (not the test client's)."""
    return [line for line in log_events.raw if line["logger"] not in CLIENT_SIDE]


def tiny_app(route: Callable[..., Any] | None = None, **options: Any) -> FastAPI:
    """A one-route app (``GET /x``) with the middleware and the given options."""
    app = FastAPI()
    app.add_middleware(RequestLoggingMiddleware, **options)

    if route is None:

        async def default_route() -> dict[str, str]:
            at.get_logger("tests.route").info("handled")
            return {"ok": "yes"}

        route = default_route
    app.get("/x")(route)
    return app


# -- start and end lines -------------------------------------------------------------------------
def test_request_lines_snapshot(log_events: CapturedEvents, snapshot: SnapshotAssertion) -> None:
    """A request gives start, handler and end lines sharing the id and span (snapshot)."""
    response = get(
        real_app(),
        "/_examples/async?page=2&api_key=k-123&token=t-456",
        headers={
            "X-Correlation-ID": CID,
            "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "Cookie": "session=abc",
            "X-API-Key": "secret-key-1",
            "User-Agent": "pytest-agent/1.0",
        },
    )
    assert response.status_code == 200
    assert response.headers["X-Correlation-ID"] == CID
    lines = request_lines(log_events)
    assert [line["event"] for line in lines] == [
        "http.request.start",
        "example.async",
        "http.request.end",
    ]
    assert {CID} == {line["correlation_id"] for line in lines}
    assert len({line["span_id"] for line in lines}) == 1
    start, _, end = lines
    assert start["data"]["query"] == "page=2&api_key=[REDACTED]&token=[REDACTED]"
    headers = start["data"]["headers"]
    assert headers["authorization"] == "[REDACTED]"
    assert headers["cookie"] == "[REDACTED]"
    assert headers["x-api-key"] == "[REDACTED]"
    assert start["data"]["user_agent"] == "pytest-agent/1.0"
    assert (end["data"]["status_code"], end["level"]) == (200, "INFO")
    assert end["data"]["response_size"] == len(response.content)
    assert normalized(log_events) == snapshot


def normalized(log_events: CapturedEvents) -> list[dict[str, Any]]:
    return [line for line in log_events.events if line["logger"] not in CLIENT_SIDE]


def test_configured_headers_and_query_parameters_are_redacted(log_events: CapturedEvents) -> None:
    """redact_headers / redact_query add names; secret-looking names are redacted anyway."""
    app = tiny_app(redact_headers=["X-Tenant"], redact_query=["email"])
    get(app, "/x?email=a%40b.c&q=1&csrf_token=zz", headers={"X-Tenant": "t1", "X-Auth-Token": "z"})
    start = log_events.by_event("http.request.start")[0]
    assert start["data"]["query"] == "email=[REDACTED]&q=1&csrf_token=[REDACTED]"
    assert start["data"]["headers"]["x-tenant"] == "[REDACTED]"
    assert start["data"]["headers"]["x-auth-token"] == "[REDACTED]"
    assert "t1" not in str(log_events.raw)


def test_end_level_follows_the_status(log_events: CapturedEvents) -> None:
    """2xx ends at INFO, 4xx at WARNING (HTTPException and unknown route), 5xx at ERROR."""
    app = real_app()
    for path in ("/_examples/async", "/_examples/status/404", "/nowhere", "/_examples/status/503"):
        response = get(app, path)
        assert response.headers["X-Correlation-ID"]
    ends = [
        (line["data"]["status_code"], line["level"])
        for line in log_events.by_event("http.request.end")
    ]
    assert ends == [(200, "INFO"), (404, "WARNING"), (404, "WARNING"), (503, "ERROR")]


# -- correlation ids -----------------------------------------------------------------------------
def test_a_missing_header_gets_a_new_uuid4(log_events: CapturedEvents) -> None:
    """No id header: a new UUID4 is bound, logged and returned."""
    response = get(real_app(), "/_examples/async")
    cid = response.headers["X-Correlation-ID"]
    assert uuid.UUID(cid).version == 4
    assert {"correlation_id": cid} == response.json()
    assert {cid} == {line["correlation_id"] for line in request_lines(log_events)}
    assert log_events.by_event("http.correlation_id.rejected") == []


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Correlation-ID", CID),
        ("X-Correlation-ID", "req-42.retry:1_a"),
        ("X-Request-ID", CID.replace("-", "")),
        ("X-Request-ID", "a" * 64),
    ],
)
def test_a_valid_header_is_kept(log_events: CapturedEvents, header: str, value: str) -> None:
    """A UUID or a short safe token from either accepted header is used as-is, and answered
    under the header it came in."""
    response = get(real_app(), "/_examples/sync", headers={header: value})
    assert value == response.headers[header]
    assert {"correlation_id": value} == response.json()
    assert {value} == {line["correlation_id"] for line in request_lines(log_events)}


def test_the_first_configured_header_wins(log_events: CapturedEvents) -> None:
    """With both headers sent, X-Correlation-ID is preferred over X-Request-ID."""
    response = get(
        real_app(), "/_examples/async", headers={"X-Request-ID": "other", "X-Correlation-ID": CID}
    )
    assert response.headers["X-Correlation-ID"] == CID


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a" * 65, "a" * 64),
        ("x" * 532, "x" * 64),
        ("abc\r\nINFO forged line", "abc\\r\\nINFO forged line"),
        ("abc\n", "abc\\n"),
        ("two words", "two words"),
        ("café-☕".encode().decode("latin-1"), "caf\\xc3\\xa9-\\xe2\\x98\\x95"),
        ("-leading-dash", "-leading-dash"),
        ("\x1b[31mred", "\\x1b[31mred"),
    ],
)
def test_an_invalid_header_is_replaced_and_warned(
    log_events: CapturedEvents, value: str, shown: str
) -> None:
    """Too long, CR/LF, spaces, non-ASCII or control characters: a new id, one escaped warning."""
    raw_headers = [(b"x-correlation-id", value.encode("latin-1"))]

    async def call() -> httpx.Response:
        return await raw_request(real_app(), "/_examples/async", raw_headers)

    response = run(call())
    cid = response.headers["X-Correlation-ID"]
    assert cid != value
    assert uuid.UUID(cid).version == 4
    (warning,) = log_events.by_event("http.correlation_id.rejected")
    assert warning["level"] == "WARNING"
    assert cid == warning["correlation_id"]
    assert {"header": "X-Correlation-ID", "value": shown, "length": len(value)} == warning["data"]
    start = log_events.by_event("http.request.start")[0]
    assert shown == start["data"]["headers"]["x-correlation-id"]
    assert {cid} == {line["correlation_id"] for line in request_lines(log_events)}


async def raw_request(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> httpx.Response:
    """Call the ASGI app with exact header bytes (httpx refuses CR/LF in headers)."""
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return httpx.Response(start["status"], headers=start["headers"], content=body)


def test_validator_and_generator_are_pluggable(log_events: CapturedEvents) -> None:
    """A custom validator and generator replace the defaults; header names are configurable."""
    app = tiny_app(
        headers=["X-Trace"],
        validator=lambda value: value.startswith("t-"),
        generator=lambda: "t-new",
    )
    assert get(app, "/x", headers={"X-Trace": "t-1"}).headers["X-Trace"] == "t-1"
    response = get(app, "/x", headers={"X-Trace": "nope", "X-Correlation-ID": CID})
    assert response.headers["X-Trace"] == "t-new"
    assert "x-correlation-id" not in response.headers


def test_is_valid_correlation_id() -> None:
    """UUIDs and short safe tokens pass; long, empty, spaced or control-character values fail."""
    assert is_valid_correlation_id(CID)
    assert is_valid_correlation_id("a" * 64)
    assert not is_valid_correlation_id("a" * 65)
    assert not is_valid_correlation_id("")
    assert not is_valid_correlation_id("abc\n")
    assert not is_valid_correlation_id("a b")
    assert not is_valid_correlation_id("é")


def test_an_id_header_set_by_the_app_is_not_duplicated() -> None:
    """A response that already carries the id header keeps its own, once."""

    async def route() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"X-Correlation-ID": "from-app"})

    response = get(tiny_app(route), "/x", headers={"X-Correlation-ID": CID})
    assert response.headers.get_list("X-Correlation-ID") == ["from-app"]


# -- where the id reaches --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "events"),
    [
        ("GET", "/_examples/sync", ["example.sync"]),
        ("GET", "/_examples/stream", ["example.chunk"] * 3),
        ("GET", "/_examples/stream-sync", ["example.chunk"] * 3),
        ("POST", "/_examples/background", ["example.background"] * 2),
        ("GET", "/_examples/injected", ["example.injected"]),
    ],
)
def test_the_id_reaches_every_kind_of_handler(
    log_events: CapturedEvents, method: str, path: str, events: list[str]
) -> None:
    """Thread-pool handlers, streaming generators (async and sync), background tasks and the
    injected logger all log with the request's id and span; the end line comes last."""
    response = run(request(real_app(), method, path, headers={"X-Correlation-ID": CID}))
    assert response.headers["X-Correlation-ID"] == CID
    lines = request_lines(log_events)
    assert ["http.request.start", *events, "http.request.end"] == [line["event"] for line in lines]
    assert {CID} == {line["correlation_id"] for line in lines}
    assert len({line["span_id"] for line in lines}) == 1
    if path.startswith("/_examples/stream"):
        assert response.text.split() == [CID] * 3


def test_request_state_carries_the_id() -> None:
    """request.state.correlation_id and the get_correlation_id dependency give the bound id."""

    async def route(
        request: Request, cid: str | None = Depends(get_correlation_id)
    ) -> dict[str, Any]:
        return {
            "state": request.state.correlation_id,
            "dep": cid,
            "ctx": at.get_context_value("correlation_id"),
        }

    assert get(tiny_app(route), "/x", headers={"X-Correlation-ID": CID}).json() == {
        "state": CID,
        "dep": CID,
        "ctx": CID,
    }


def test_the_context_is_reset_after_each_request(log_events: CapturedEvents) -> None:
    """Nothing bound by the request (id, span, user) survives it; an outer binding is restored."""
    app = real_app()

    async def calls() -> list[dict[str, Any]]:
        seen = []
        with at.bind(component="caller"):
            await request(app, "GET", "/_examples/async", headers={"X-Correlation-ID": CID})
            seen.append(at.current_context())
            await request(app, "GET", "/_examples/error")
            seen.append(at.current_context())
        seen.append(at.current_context())
        return seen

    assert run(calls()) == [{"component": "caller"}, {"component": "caller"}, {}]
    at.get_logger("tests.after").info("after the requests")
    assert None is log_events.raw[-1]["correlation_id"]


def test_a_leaked_binding_inside_the_request_does_not_escape() -> None:
    """A handler that binds without resetting (a careless dependency) cannot leak past it."""

    async def route() -> dict[str, str]:
        at.bind_contextvars(user_id="leaky", strategy_id=7)
        return {}

    async def call() -> dict[str, Any]:
        await request(tiny_app(route), "GET", "/x")
        return at.current_context()

    assert run(call()) == {}


def test_the_user_id_from_authentication_is_on_the_end_line(log_events: CapturedEvents) -> None:
    """The user id authentication puts in request.state (and binds) reaches the end line."""

    async def authenticate(request: Request) -> AsyncIterator[str]:
        request.state.user_id = "user_123"
        with at.bind(user_id="user_123"):
            yield "user_123"

    async def route(user: str = Depends(authenticate)) -> dict[str, str]:
        at.get_logger("tests.route").info("handled for the user")
        return {"user": user}

    get(tiny_app(route), "/x", headers={"X-Correlation-ID": CID})
    start, handled, end = request_lines(log_events)
    assert None is start["user_id"]
    assert handled["user_id"] == "user_123"
    assert (
        end["user_id"],
        end["correlation_id"],
        end["event"],
    ) == ("user_123", CID, "http.request.end")


# -- failures ------------------------------------------------------------------------------------
def test_an_unhandled_exception_is_logged_once_with_a_500_carrying_the_id(
    log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """The client gets a 500 with the id header; the traceback is logged once, at ERROR."""
    response = get(real_app(), "/_examples/error", headers={"X-Correlation-ID": CID})
    assert response.status_code == 500
    assert response.headers["X-Correlation-ID"] == CID
    assert response.json() == {"detail": "Internal Server Error"}
    with_traceback = [line for line in log_events.raw if "exception" in line]
    assert len(with_traceback) == 1
    (end,) = with_traceback
    assert (end["level"], end["correlation_id"], end["event"]) == ("ERROR", CID, "http.request.end")
    assert end["exception"]["type"] == "RuntimeError"
    assert "example failure" in end["exception"]["traceback"]
    assert (end["data"]["status_code"], end["data"]["status"]) == (500, "error")
    assert normalized(log_events) == snapshot


def test_the_exception_is_re_raised_for_the_server(log_events: CapturedEvents) -> None:
    """After logging, the app's own exception propagates (the server or test client sees it),
    marked so uvicorn's duplicate of it is dropped."""
    with pytest.raises(ValueError, match="example failure in a thread") as caught:
        get(real_app(), "/_examples/error-sync", raise_app_exceptions=True)
    message = "Exception in ASGI application"
    info = (ValueError, caught.value, None)
    record = logging.LogRecord("uvicorn.error", logging.ERROR, "", 0, message, None, info)
    assert not LoggedExceptionFilter().filter(record)
    other = ValueError("not seen by the middleware")
    record.exc_info = (ValueError, other, None)
    assert LoggedExceptionFilter().filter(record)
    assert sum("exception" in line for line in log_events.raw) == 1


def test_error_response_off_leaves_the_500_to_the_framework(log_events: CapturedEvents) -> None:
    """error_response=False: FastAPI's own 500 (no id header); still logged once."""

    async def route() -> None:
        raise RuntimeError("boom")

    response = get(tiny_app(route, error_response=False), "/x")
    assert response.status_code == 500
    assert "x-correlation-id" not in response.headers
    assert sum("exception" in line for line in log_events.raw) == 1


def test_a_stream_failing_midway_ends_at_error_with_the_sent_status(
    log_events: CapturedEvents,
) -> None:
    """An exception after the response started: status stays 200, the end line is ERROR."""
    from fastapi.responses import StreamingResponse

    async def route() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first"
            raise RuntimeError("stream broke")

        return StreamingResponse(chunks())

    with pytest.raises(RuntimeError):
        get(tiny_app(route), "/x", raise_app_exceptions=True)
    (end,) = log_events.by_event("http.request.end")
    assert (
        end["level"],
        end["data"]["status_code"],
        end["data"]["response_size"],
    ) == ("ERROR", 200, 5)


# -- options -------------------------------------------------------------------------------------
def test_skipped_paths_log_nothing_but_keep_the_id(log_events: CapturedEvents) -> None:
    """GET /health writes no request lines; the id is still bound and returned."""
    response = get(real_app(), "/health", headers={"X-Correlation-ID": CID})
    assert response.json() == {"status": "ok"}
    assert response.headers["X-Correlation-ID"] == CID
    assert request_lines(log_events) == []


def test_a_failure_on_a_skipped_path_is_still_logged(log_events: CapturedEvents) -> None:
    """A failing skipped path still logs its exception once, with the id, and answers 500."""

    async def route() -> None:
        raise RuntimeError("health check broke")

    response = get(tiny_app(route, skip_paths=["/x"]), "/x", headers={"X-Correlation-ID": CID})
    assert (response.status_code, response.headers["X-Correlation-ID"]) == (500, CID)
    (line,) = request_lines(log_events)
    assert (
        line["level"],
        line["correlation_id"],
        line["exception"]["type"],
    ) == ("ERROR", CID, "RuntimeError")


def test_the_start_level_is_configurable(log_events: CapturedEvents) -> None:
    """start_level=DEBUG logs the start line at DEBUG; filtered out, only the end line remains."""
    get(tiny_app(start_level="DEBUG"), "/x")
    assert log_events.by_event("http.request.start")[0]["level"] == "DEBUG"
    log_events.clear()
    logging.getLogger("agent_tracing.fastapi").setLevel(logging.INFO)
    try:
        get(tiny_app(start_level=logging.DEBUG), "/x")
    finally:
        logging.getLogger("agent_tracing.fastapi").setLevel(logging.NOTSET)
    assert [line["event"] for line in log_events.by_event("http.request.end")] == [
        "http.request.end"
    ]
    assert log_events.by_event("http.request.start") == []


def test_log_headers_off(log_events: CapturedEvents) -> None:
    """log_headers=False leaves the headers out of the start line."""
    get(tiny_app(log_headers=False), "/x")
    assert "headers" not in log_events.by_event("http.request.start")[0]["data"]


def test_lifespan_passes_through() -> None:
    """Lifespan events reach the app untouched, with no request lines."""
    started: list[bool] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started.append(True)
        yield

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(RequestLoggingMiddleware)
    with TestClient(app):
        pass
    assert started == [True]


def test_a_websocket_connection_is_one_span(log_events: CapturedEvents) -> None:
    """A WebSocket gets the id (accept header, handler lines) and start/end lines."""
    with (
        TestClient(real_app()) as client,
        client.websocket_connect("/_examples/ws", headers={"X-Correlation-ID": CID}) as ws,
    ):
        ws.send_text("hi")
        assert f"{CID} hi" == ws.receive_text()
        assert (b"x-correlation-id", CID.encode()) in ws.extra_headers
    lines = request_lines(log_events)
    assert [line["event"] for line in lines] == [
        "http.request.start",
        "example.websocket",
        "http.request.end",
    ]
    assert {CID} == {line["correlation_id"] for line in lines}
    assert lines[0]["data"]["websocket"] is True
    assert (lines[-1]["data"]["status_code"], lines[-1]["level"]) == (101, "INFO")


def test_logger_for_request_binds_id_and_user_outside_the_context(
    log_events: CapturedEvents,
) -> None:
    """The request logger carries the id and user even from a thread without the context."""
    import threading

    async def route(request: Request) -> dict[str, str]:
        request.state.user_id = "user_9"
        log = logger_for_request(request, "app.api", component="Worker")
        thread = threading.Thread(target=log.info, args=("from a bare thread",))
        thread.start()
        thread.join()
        return {}

    get(tiny_app(route), "/x", headers={"X-Correlation-ID": CID})
    (line,) = [line for line in log_events.raw if line["message"] == "from a bare thread"]
    assert (
        line["correlation_id"], line["user_id"], line["component"], line["span_id"],
    ) == (CID, "user_9", "Worker", None)  # fmt: skip


def test_the_middleware_rejects_an_empty_header_list() -> None:
    """headers=() is a configuration error, raised when the app is built."""
    with pytest.raises(ValueError, match="at least one header"):
        RequestLoggingMiddleware(FastAPI(), headers=())


def test_an_http_exception_in_a_dependency_is_a_warning(log_events: CapturedEvents) -> None:
    """A 401 raised by a dependency (failed authentication) ends at WARNING with the header."""

    async def deny() -> None:
        raise HTTPException(status_code=401, detail="no token")

    async def route(_: None = Depends(deny)) -> dict[str, str]:
        return {}

    response = get(tiny_app(route), "/x", headers={"X-Correlation-ID": CID})
    assert (response.status_code, response.headers["X-Correlation-ID"]) == (401, CID)
    (end,) = log_events.by_event("http.request.end")
    assert (end["level"], end["data"]["status_code"], end["user_id"]) == ("WARNING", 401, None)


def test_an_app_that_never_answers_gets_a_500_with_the_id(log_events: CapturedEvents) -> None:
    """An ASGI app returning without a response: the client gets the 500 with the id header,
    the end line is at ERROR."""

    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None

    response = get(RequestLoggingMiddleware(silent), "/x", headers={"X-Correlation-ID": CID})
    assert (response.status_code, response.headers["X-Correlation-ID"]) == (500, CID)
    (end,) = log_events.by_event("http.request.end")
    assert (end["level"], end["data"]["status_code"]) == ("ERROR", 500)


def test_the_package_imports_only_the_core_and_its_framework() -> None:
    """agent_tracing.fastapi imports no other integration and loads no other framework."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import agent_tracing.fastapi as package

    others = ("celery", "langchain", "freqtrade", "sqlalchemy")
    offenders = []
    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [(path.name, n) for n in names if n.split(".")[0] in others
                          or n in {f"agent_tracing.{o}" for o in others}]  # fmt: skip
    assert offenders == []
    code = (
        "import sys, agent_tracing.fastapi;"
        "print(','.join(m for m in ('celery','kombu','langchain_core','langgraph','sqlalchemy',"
        "'freqtrade') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_failing_custom_validator_or_generator_never_fails_the_request(
    log_events: CapturedEvents,
) -> None:
    """A validator or generator that raises: the request is served with a fresh UUID4."""

    def broken(_: str) -> bool:
        raise RuntimeError("validator bug")

    def broken_generator() -> str:
        raise RuntimeError("generator bug")

    for options in ({"validator": broken}, {"generator": broken_generator}):
        response = get(tiny_app(**options), "/x", headers={"X-Correlation-ID": "bad id"})
        assert response.status_code == 200
        assert uuid.UUID(response.headers["X-Correlation-ID"]).version == 4


def test_a_malformed_scope_still_gets_its_lines(log_events: CapturedEvents) -> None:
    """A scope the start data cannot be read from (a one-item client): served, and the start
    line says what failed instead of raising."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    async def call() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        scope = {"type": "http", "method": "GET", "path": "/x", "headers": [],
                 "query_string": b"", "client": ("only-host",)}  # fmt: skip
        await RequestLoggingMiddleware(app)(scope, receive, send)
        return messages

    messages = run(call())
    assert messages[0]["status"] == 200
    start = log_events.by_event("http.request.start")[0]
    assert start["data"]["_log_error"] == "IndexError"
    assert len(log_events.by_event("http.request.end")) == 1


def test_rejected_id_and_client_error_snapshot(
    log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """A rejected id and a 404: the warning and the WARNING end line (snapshot)."""
    response = get(real_app(), "/_examples/status/404", headers={"X-Request-ID": "x" * 100})
    assert response.status_code == 404
    assert normalized(log_events) == snapshot
