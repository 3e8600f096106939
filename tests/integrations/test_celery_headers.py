"""What a task message carries of the context, and the redaction of its printable args."""

from __future__ import annotations

import time
import uuid
from typing import Any

import agent_tracing as at
from agent_tracing.celery.headers import (
    HEADER_CONTEXT,
    HEADER_CORRELATION_ID,
    context_from_headers,
    inject_context,
    redact_reprs,
)


def test_inject_writes_the_bound_context_and_the_current_span() -> None:
    """Correlation id, user/strategy/backtest ids and the span id go into two headers."""
    headers: dict[str, Any] = {}
    with at.bind(correlation_id="c1", user_id="u1", strategy_id=4, backtest_id=5, component="X"):
        with at.span("publish") as publisher:
            assert inject_context(headers) is True
    assert headers == {
        HEADER_CORRELATION_ID: "c1",
        HEADER_CONTEXT: {
            "user_id": "u1",
            "strategy_id": 4,
            "backtest_id": 5,
            "parent_span_id": publisher.span_id,
        },
    }


def test_inject_without_context_writes_nothing() -> None:
    """With nothing bound, no header is added."""
    headers: dict[str, Any] = {}
    assert inject_context(headers) is False
    assert headers == {}


def test_values_a_serializer_cannot_hold_travel_as_text() -> None:
    """An id bound as a UUID object travels as its text, so any serializer accepts the header."""
    value = uuid.UUID(int=7)
    headers: dict[str, Any] = {}
    with at.bind(correlation_id=value, user_id=value):
        inject_context(headers)
    assert headers[HEADER_CORRELATION_ID] == repr(value)
    assert headers[HEADER_CONTEXT] == {"user_id": repr(value)}


def test_context_is_read_back_from_headers_and_nested_headers() -> None:
    """A mapping, an object with .get, or one whose .headers hold them: the same context."""
    headers = {
        HEADER_CORRELATION_ID: "c1",
        HEADER_CONTEXT: {"user_id": "u1", "parent_span_id": "s"},
    }
    expected = {"correlation_id": "c1", "user_id": "u1", "parent_span_id": "s"}
    assert context_from_headers(headers) == expected

    class Request:
        def __init__(self) -> None:
            self.headers = headers

        def get(self, key: str, default: Any = None) -> Any:
            return default

    assert context_from_headers(Request()) == expected


def test_junk_headers_give_no_context() -> None:
    """Missing or malformed headers give an empty context, never an error."""
    assert context_from_headers({}) == {}
    assert context_from_headers({HEADER_CONTEXT: "not a mapping"}) == {}
    assert context_from_headers(object()) == {}


def test_reprs_are_rebuilt_only_when_a_secret_is_found() -> None:
    """argsrepr/kwargsrepr are replaced by redacted copies when a secret is found, else kept."""
    headers = {"argsrepr": "('bob', 'x')", "kwargsrepr": "{'password': 'p'}"}
    body = (("bob", "x"), {"password": "p", "nested": [{"api_key": "k"}]}, {})
    assert redact_reprs(headers, body) is True
    assert headers == {
        "argsrepr": "('bob', 'x')",
        "kwargsrepr": "{'password': '[REDACTED]', 'nested': [{'api_key': '[REDACTED]'}]}",
    }
    plain = {"argsrepr": "(1, 2)", "kwargsrepr": "{}"}
    assert redact_reprs(plain, ((1, 2), {}, {})) is False
    assert plain == {"argsrepr": "(1, 2)", "kwargsrepr": "{}"}


def test_secret_values_in_positional_strings_are_redacted() -> None:
    """A bearer token or a URL password passed positionally is scrubbed from argsrepr."""
    headers = {"argsrepr": "", "kwargsrepr": ""}
    body = (("Bearer abcdefghijklmnopqrstu", "postgresql://u:hunter2@db/x"), {}, {})
    assert redact_reprs(headers, body) is True
    assert "abcdefghijklmnopqrstu" not in headers["argsrepr"]
    assert "hunter2" not in headers["argsrepr"]


def test_large_arguments_are_walked_only_as_far_as_a_repr_shows() -> None:
    """A secret within what argsrepr shows is found; a huge argument stays cheap to publish."""
    headers = {"argsrepr": "", "kwargsrepr": ""}
    rows = [{"n": n} for n in range(100_000)]
    body = ((rows, "x" * 1_000_000), {"settings": {"password": "p"}}, {})
    started = time.perf_counter()
    assert redact_reprs(headers, body) is True
    assert time.perf_counter() - started < 1.0
    assert headers["kwargsrepr"] == "{'settings': {'password': '[REDACTED]'}}"
    assert len(headers["argsrepr"]) <= 1100


def test_a_positional_argument_named_as_a_secret_is_redacted() -> None:
    """``login("alice", "hunter2")``: the value in the ``password`` position is hidden in argsrepr
    and in the start line's args, although nothing in the value itself looks secret."""
    from agent_tracing.celery.headers import redact_positional, secret_positions
    from app.tasks.examples import login

    positions = secret_positions(login)
    assert frozenset({1}) == positions
    headers = {"argsrepr": "('alice', 'hunter2')", "kwargsrepr": "{}"}
    assert redact_reprs(headers, (("alice", "hunter2"), {}, {}), positions)
    assert headers["argsrepr"] == "('alice', '[REDACTED]')"
    assert redact_positional(("alice", "hunter2", {}), positions) == ("alice", "[REDACTED]", {})
