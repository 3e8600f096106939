"""The schema in one place: the default keys, and context fields an application declares."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agent_tracing as at
from agent_tracing import formatters, schema
from agent_tracing.celery.headers import context_from_headers, inject_context
from agent_tracing.cli import main as cli_main
from agent_tracing.freqtrade._command import context_from_environ, tracing_environment
from agent_tracing.testing import capture_events, normalize_events
from agent_tracing.viewer.filters import LineFilter

DEFAULT_KEYS = (
    "timestamp",
    "level",
    "correlation_id",
    "component",
    "user_id",
    "strategy_id",
    "backtest_id",
    "message",
    "data",
    "logger",
    "event",
    "span_id",
    "parent_span_id",
)
TENANT_KEYS = (
    "timestamp",
    "level",
    "correlation_id",
    "component",
    "tenant_id",
    "user_id",
    "message",
    "data",
    "logger",
    "event",
    "span_id",
    "parent_span_id",
)


@pytest.fixture(autouse=True)
def default_schema() -> Iterator[None]:
    """Every test leaves the default schema behind, whatever it declared."""
    try:
        yield
    finally:
        schema.set_context_fields(schema.DEFAULT_CONTEXT_FIELDS)


def _json_lines(tmp_path: Path, **options: Any) -> tuple[Path, at.BoundLogger]:
    path = tmp_path / "out.jsonl"
    at.configure_logging(console=False, json_output=str(path), **options)
    return path, at.get_logger("app.schema")


def _read(path: Path) -> list[dict[str, Any]]:
    at.flush_logging()
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_default_schema_is_the_seeds() -> None:
    """Without a declaration the keys, their order and the context fields are the seed's."""
    assert schema.line_keys() == DEFAULT_KEYS
    assert at.SCHEMA_KEYS == DEFAULT_KEYS
    assert schema.declared_fields() == ("user_id", "strategy_id", "backtest_id")
    assert at.CONTEXT_FIELDS == ("correlation_id", "component", "user_id", "strategy_id",
                                 "backtest_id")  # fmt: skip


def test_declared_fields_are_top_level_keys_in_their_order(tmp_path: Path) -> None:
    """configure_logging(context_fields=...) makes each declared field a top-level key, in the
    declared order, set by bind, a keyword, a plain logger's extra and a span; unset is null."""
    path, log = _json_lines(tmp_path, context_fields=["tenant_id", "user_id"])
    with at.bind(tenant_id="t1", user_id="u1", strategy_id="s1"):
        log.info("bound")
        log.info("keyword", tenant_id="t2")
    logging.getLogger("third.party").info("extra", extra={"tenant_id": "t3", "data": {"k": 1}})
    with at.span("work", tenant_id="t4"):
        log.info("in span")
    log.info("nothing bound")
    lines = _read(path)
    assert all(tuple(line) == TENANT_KEYS for line in lines)
    by_message = {line["message"]: line for line in lines}
    assert (by_message["bound"]["tenant_id"], by_message["bound"]["user_id"]) == ("t1", "u1")
    # strategy_id is no field of this schema: a bound value of it is data, as any other key.
    assert by_message["bound"]["data"] == {"strategy_id": "s1"}
    assert by_message["keyword"]["tenant_id"] == "t2"
    assert by_message["extra"]["tenant_id"] == "t3"
    assert by_message["extra"]["data"] == {"k": 1}
    assert by_message["in span"]["tenant_id"] == "t4"
    assert by_message["nothing bound"]["tenant_id"] is None
    assert schema.line_keys() == TENANT_KEYS


def test_the_environment_declares_fields_and_shutdown_puts_back_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AGENT_TRACING_CONTEXT_FIELDS declares the fields as the argument does; shutdown_logging
    puts back the declaration from before the call."""
    monkeypatch.setenv("AGENT_TRACING_CONTEXT_FIELDS", "tenant_id, user_id")
    path, log = _json_lines(tmp_path)
    with at.bind(tenant_id="t1"):
        log.info("x")
    assert tuple(_read(path)[0]) == TENANT_KEYS
    at.shutdown_logging()
    assert schema.line_keys() == DEFAULT_KEYS


@pytest.mark.parametrize(
    ("declared", "reason"),
    [
        ("Tenant", "lowercase identifier"),
        ("tenant-id", "lowercase identifier"),
        ("message", "already has"),
        ("span_id", "already has"),
        ("extra", "already has"),
        ("tenant_id,tenant_id", "twice"),
        ("x" * 65, "lowercase identifier"),
    ],
)
def test_a_bad_declaration_is_a_clear_error_that_keeps_the_setup(
    tmp_path: Path, declared: str, reason: str
) -> None:
    """A name that is not a lowercase identifier, a key the line has or a repeated name is a
    ValueError naming it; the schema and the logging setup in place stay."""
    path, log = _json_lines(tmp_path)
    with pytest.raises(ValueError, match=reason):
        at.configure_logging(console=False, json_output=str(path), context_fields=declared)
    log.info("still here", user_id="u")
    assert [(line["message"], line["user_id"]) for line in _read(path)] == [("still here", "u")]
    assert schema.line_keys() == DEFAULT_KEYS


def test_a_misspelt_keyword_raises_at_any_level_and_a_declared_one_does_not() -> None:
    """An unknown keyword is a TypeError even when the level is off (as an unknown keyword
    argument always is); a declared field is accepted as a keyword."""
    log = at.get_logger("app.schema.levels")
    log.setLevel(logging.WARNING)
    try:
        with pytest.raises(TypeError, match="tenant_id"):
            log.debug("off", tenant_id="t")
        schema.set_context_fields(["tenant_id"])
        with capture_events() as events:
            log.warning("on", tenant_id="t")
    finally:
        log.setLevel(logging.NOTSET)
    assert events.raw[0]["tenant_id"] == "t"


def test_a_declared_field_is_redacted_and_escaped_like_the_others() -> None:
    """A secret in a declared field's value is redacted; the console view shows the field by
    its name in a format, escaped."""
    schema.set_context_fields(["tenant_id"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(at.ConsoleFormatter("%(tenant_id)s %(message)s", no_color=True))
    logger = logging.getLogger("app.console")
    logger.addHandler(handler)
    try:
        with capture_events() as events, at.bind(tenant_id="t\x1b[31m"):
            at.get_logger("app.console").info("x", tenant_id="sk-abcdefghijklmnopqrstuvwx")
            at.get_logger("app.console").info("y")
    finally:
        logger.removeHandler(handler)
    assert events.raw[0]["tenant_id"] == "[REDACTED]"
    assert stream.getvalue().splitlines() == ["[REDACTED] x", "t\\x1b[31m y"]


def test_the_fallback_lines_follow_the_schema() -> None:
    """The lines written when a line cannot be built (the fallback and the last resort) have
    every key of the declared schema, in its order."""
    schema.set_context_fields(["tenant_id"])
    record = logging.LogRecord("app.x", logging.INFO, __file__, 1, "m", None, None)
    fallback = formatters._fallback_line(record, RuntimeError("boom"))
    last_resort = json.loads(formatters._LAST_RESORT_LINE)
    expected = tuple(key for key in TENANT_KEYS if key != "user_id")
    assert (tuple(fallback), tuple(last_resort)) == (expected, expected)


def test_a_celery_message_carries_the_declared_fields() -> None:
    """The task headers carry every declared field (and no undeclared key) to the worker."""
    schema.set_context_fields(["tenant_id", "user_id"])
    headers: dict[str, Any] = {}
    with at.bind(correlation_id="c1", tenant_id="t1", user_id="u1", strategy_id="s"):
        assert inject_context(headers)
    assert headers["x_trace_context"] == {"tenant_id": "t1", "user_id": "u1"}
    assert context_from_headers(headers) == {
        "correlation_id": "c1",
        "tenant_id": "t1",
        "user_id": "u1",
    }


def test_a_freqtrade_child_gets_the_declared_fields_and_the_declaration() -> None:
    """A child process gets each declared field in its own variable and the declaration, and
    reads them back even before it declared the fields itself."""
    schema.set_context_fields(["tenant_id"])
    with at.bind(correlation_id="c1", tenant_id="t1"):
        env = tracing_environment("span1")
    assert env == {
        "AGENT_TRACING_CORRELATION_ID": "c1",
        "AGENT_TRACING_CTX_TENANT_ID": "t1",
        "AGENT_TRACING_CONTEXT_FIELDS": "tenant_id",
        "AGENT_TRACING_PARENT_SPAN_ID": "span1",
    }
    schema.set_context_fields(schema.DEFAULT_CONTEXT_FIELDS)  # the child, not yet configured
    assert context_from_environ(env) == {
        "correlation_id": "c1",
        "tenant_id": "t1",
        "span_id": "span1",
    }


def test_the_default_fields_keep_their_variables() -> None:
    """The default schema's fields travel as AGENT_TRACING_USER_ID... with no declaration."""
    with at.bind(user_id="u1", backtest_id=7):
        env = tracing_environment(None)
    assert env == {"AGENT_TRACING_USER_ID": "u1", "AGENT_TRACING_BACKTEST_ID": "7"}


def test_the_viewer_filters_on_a_declared_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``agent-tracing --field tenant_id=t1`` keeps that tenant's lines only; a malformed
    --field is a usage error."""
    path, log = _json_lines(tmp_path, context_fields="tenant_id")
    with at.bind(correlation_id="c-one", tenant_id="t1"):
        log.info("first tenant")
    with at.bind(correlation_id="c-two", tenant_id="t2"):
        log.info("second tenant")
    lines = _read(path)
    assert [line["message"] for line in lines if LineFilter(fields=(("tenant_id", "t1"),))(line)]
    assert cli_main(["list", str(path), "--field", "tenant_id=t1"]) == 0
    listed = capsys.readouterr().out
    assert "c-one" in listed
    assert "c-two" not in listed
    assert cli_main(["list", str(path), "--field", "tenant_id"]) == 2


def test_the_normaliser_numbers_ids_in_any_schema() -> None:
    """The snapshot normaliser replaces ids and timestamps whatever the declared fields."""
    schema.set_context_fields(["tenant_id"])
    with capture_events() as events, at.bind(correlation_id="c1", tenant_id="t1"):
        with at.span("s"):
            at.get_logger("app.n").info("x")
    normalized = normalize_events(events.raw)
    assert {line["correlation_id"] for line in normalized} == {"<cid:1>"}
    assert {line["tenant_id"] for line in normalized} == {"t1"}
    assert {line["span_id"] for line in normalized} == {"<span:1>"}
