"""The correlation id's response header: answered under the header the client used, and a custom
generator's id checked before it reaches the header, so the header and the lines always agree."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from agent_tracing.fastapi import RequestLoggingMiddleware
from agent_tracing.testing import CapturedEvents

CID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def make_app(**options: Any) -> FastAPI:
    """A one-route app behind the middleware; the route returns the id it sees."""
    app = FastAPI()
    app.add_middleware(RequestLoggingMiddleware, **options)

    @app.get("/id")
    async def show_id(request: Request) -> dict[str, str]:
        return {"correlation_id": request.state.correlation_id}

    @app.get("/own-header")
    async def own_header() -> JSONResponse:
        return JSONResponse({}, headers={"X-Request-ID": "set-by-the-app"})

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


def get(app: FastAPI, path: str = "/id", headers: dict[str, str] | None = None) -> httpx.Response:
    async def call() -> httpx.Response:
        # The client reads the 500 the middleware sent instead of the re-raised exception.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(call())


def id_headers(response: httpx.Response) -> dict[str, str]:
    """The response's correlation headers, by lower-case name."""
    names = ("x-correlation-id", "x-request-id", "x-trace")
    return {name: value for name, value in response.headers.items() if name in names}


def line_ids(log_events: CapturedEvents) -> set[Any]:
    """The correlation ids of the middleware's lines."""
    return {
        line["correlation_id"]
        for line in log_events.raw
        if line["logger"] not in ("httpx", "asyncio")
    }


# -- the response header follows the request header ----------------------------------------------
def test_x_request_id_is_answered_under_x_request_id(log_events: CapturedEvents) -> None:
    """A client that sends X-Request-ID gets its id back under X-Request-ID, and only there."""
    response = get(make_app(), headers={"X-Request-ID": "req-chat-42"})
    assert id_headers(response) == {"x-request-id": "req-chat-42"}
    assert response.json() == {"correlation_id": "req-chat-42"}
    assert {"req-chat-42"} == line_ids(log_events)


def test_x_correlation_id_is_answered_under_x_correlation_id(log_events: CapturedEvents) -> None:
    """A client that sends X-Correlation-ID gets its id back under X-Correlation-ID only."""
    response = get(make_app(), headers={"X-Correlation-ID": CID})
    assert id_headers(response) == {"x-correlation-id": CID}


def test_a_generated_id_is_answered_under_the_first_header(log_events: CapturedEvents) -> None:
    """No id header: the new id goes back under the first configured header only."""
    response = get(make_app())
    (cid,) = id_headers(response).values()
    assert uuid.UUID(response.headers["X-Correlation-ID"]).version == 4
    assert {cid} == line_ids(log_events)


def test_both_headers_sent_answers_under_the_one_used(log_events: CapturedEvents) -> None:
    """With both headers sent, the id read (X-Correlation-ID) is answered under its own header."""
    response = get(make_app(), headers={"X-Request-ID": "other", "X-Correlation-ID": CID})
    assert id_headers(response) == {"x-correlation-id": CID}


def test_a_rejected_x_request_id_is_replaced_under_x_request_id(
    log_events: CapturedEvents,
) -> None:
    """A rejected X-Request-ID: the new id is answered under X-Request-ID, as logged."""
    response = get(make_app(), headers={"X-Request-ID": "x" * 100})
    (cid,) = id_headers(response).values()
    assert uuid.UUID(response.headers["X-Request-ID"]).version == 4
    assert {cid} == line_ids(log_events)
    (warning,) = log_events.by_event("http.correlation_id.rejected")
    assert warning["data"]["header"] == "X-Request-ID"


def test_custom_headers_answer_under_the_configured_name(log_events: CapturedEvents) -> None:
    """With headers=("X-Trace", "X-Request-ID"), each client is answered under the one it sent."""
    app = make_app(headers=("X-Trace", "X-Request-ID"))
    assert id_headers(get(app, headers={"x-request-id": "r-1"})) == {"x-request-id": "r-1"}
    assert id_headers(get(app, headers={"X-TRACE": "t-1"})) == {"x-trace": "t-1"}
    assert list(id_headers(get(app))) == ["x-trace"]


def test_an_id_header_the_app_set_is_kept(log_events: CapturedEvents) -> None:
    """The application's own X-Request-ID is not overwritten nor doubled."""
    response = get(make_app(), "/own-header", headers={"X-Request-ID": "req-1"})
    assert [
        (name, value) for name, value in response.headers.multi_items() if name == "x-request-id"
    ] == [("x-request-id", "set-by-the-app")]


def test_an_unhandled_500_is_answered_under_the_header_used(log_events: CapturedEvents) -> None:
    """The middleware's own 500 carries the id under X-Request-ID when the client sent it."""
    response = get(make_app(), "/boom", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert id_headers(response) == {"x-request-id": "req-500"}


def test_a_validator_that_raises_rejects_under_the_header_used(
    log_events: CapturedEvents,
) -> None:
    """A validator that raises refuses the value: a new id, warned, under the header used."""

    def validator(value: str) -> bool:
        raise ValueError(value)

    response = get(make_app(validator=validator), headers={"X-Request-ID": "req-1"})
    assert response.status_code == 200
    cid = response.headers["X-Request-ID"]
    assert uuid.UUID(cid).version == 4
    assert {cid} == line_ids(log_events)
    assert len(log_events.by_event("http.correlation_id.rejected")) == 1


# -- a custom generator's id is checked --------------------------------------------------------
def generator_warnings(log_events: CapturedEvents) -> list[dict[str, Any]]:
    return log_events.by_event("http.correlation_id.generator_rejected")


def test_a_non_latin1_generated_id_is_replaced(log_events: CapturedEvents) -> None:
    """A generator's `id-да` never reaches the header: a UUID4 is used, in header and lines."""
    response = get(make_app(generator=lambda: "id-да"))
    cid = response.headers["X-Correlation-ID"]
    assert uuid.UUID(cid).version == 4
    assert {"correlation_id": cid} == response.json()
    assert {cid} == line_ids(log_events)
    (warning,) = generator_warnings(log_events)
    assert ("WARNING", cid, "id-\\u0434\\u0430") == (
        warning["level"],
        warning["correlation_id"],
        warning["data"]["value"],
    )


def raises() -> str:
    raise RuntimeError("no id today")


@pytest.mark.parametrize(
    "generator",
    [
        lambda: "café",  # Latin-1 but not ASCII: clients decode it differently
        lambda: "a\r\nX-Evil: 1",
        lambda: "two words",
        lambda: "",
        lambda: 42,
        lambda: None,
        lambda: "x" * 65,  # fails the default validator: a client echoing it would be refused
        lambda: "sk-" + "a1B2" * 12,  # secret-shaped: the lines would say [REDACTED]
        lambda: "\x00nul",
        raises,
    ],
)
def test_an_unusable_generated_id_is_replaced(
    log_events: CapturedEvents, generator: Callable[[], Any]
) -> None:
    """Whatever a custom generator returns or raises, header and lines carry the same UUID4."""
    response = get(make_app(generator=generator))
    assert response.status_code == 200
    cid = response.headers["X-Correlation-ID"]
    assert uuid.UUID(cid).version == 4
    assert {cid} == line_ids(log_events)
    assert len(generator_warnings(log_events)) == 1


def test_the_generator_warning_is_logged_once_per_middleware(log_events: CapturedEvents) -> None:
    """Three requests with a bad generator: three fresh ids, one warning."""
    app = make_app(generator=lambda: "id-да")
    ids = {get(app).headers["X-Correlation-ID"] for _ in range(3)}
    assert len(ids) == 3
    assert len(generator_warnings(log_events)) == 1


def test_a_rejected_client_id_with_a_bad_generator_still_agrees(
    log_events: CapturedEvents,
) -> None:
    """A rejected client id replaced through a bad generator: one id in header and lines."""
    response = get(make_app(generator=lambda: "id-да"), headers={"X-Request-ID": "a b"})
    cid = response.headers["X-Request-ID"]
    assert uuid.UUID(cid).version == 4
    assert {cid} == line_ids(log_events)


def test_a_good_custom_generator_is_used_as_is(log_events: CapturedEvents) -> None:
    """A generator's header-safe id that the validator accepts is used, without a warning."""
    response = get(make_app(generator=lambda: "req-7"))
    assert response.headers["X-Correlation-ID"] == "req-7"
    assert {"req-7"} == line_ids(log_events)
    assert generator_warnings(log_events) == []


def test_without_validator_a_header_safe_id_is_used(log_events: CapturedEvents) -> None:
    """validator=None: a long header-safe generated id is used, a non-ASCII one is not."""
    long_id = "r" * 100
    assert (
        long_id
        == get(make_app(validator=None, generator=lambda: long_id)).headers["X-Correlation-ID"]
    )
    cid = get(make_app(validator=None, generator=lambda: "id-да")).headers["X-Correlation-ID"]
    assert uuid.UUID(cid).version == 4


def test_a_skipped_path_checks_the_generated_id_too(log_events: CapturedEvents) -> None:
    """On a skipped path the bad generated id is replaced and the warning still logged once."""
    response = get(make_app(generator=lambda: "id-да", skip_paths=["/id"]))
    cid = response.headers["X-Correlation-ID"]
    assert {"correlation_id": cid} == response.json()
    assert uuid.UUID(cid).version == 4
    assert len(generator_warnings(log_events)) == 1
