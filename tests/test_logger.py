"""Loggers: data and context keywords, misspelt keywords, third-party records, exceptions."""

from __future__ import annotations

import logging

import pytest
from syrupy.assertion import SnapshotAssertion

import agent_tracing as at
from agent_tracing.testing import CapturedEvents, capture_events


def test_info_line_has_the_full_schema(log_events: CapturedEvents) -> None:
    """A plain log call emits every schema key, in order, with data and the bound context."""
    log = at.get_logger("app.db.services.backtests", component="BacktestsService")
    with at.bind(correlation_id="c-1", user_id="user_123", strategy_id=456, backtest_id=789):
        log.info("Backtest started", data={"date_range": "20240101-20240128"})
    (line,) = log_events.raw
    assert list(line) == list(at.SCHEMA_KEYS)
    assert line["level"] == "INFO"
    assert line["component"] == "BacktestsService"
    assert line["logger"] == "app.db.services.backtests"
    assert line["data"] == {"date_range": "20240101-20240128"}
    assert (line["correlation_id"], line["user_id"], line["strategy_id"], line["backtest_id"]) == (
        "c-1",
        "user_123",
        456,
        789,
    )


def test_representative_lines(log_events: CapturedEvents, snapshot: SnapshotAssertion) -> None:
    """Snapshot of the lines a service logs in a span, with an error and a warning."""
    log = at.get_logger("app.db.services.backtests", component="BacktestsService")
    with at.bind(correlation_id=at.new_correlation_id(), user_id="user_123"):
        with at.span("run backtest", kind="backtest", strategy_id=456, backtest_id=789):
            log.info("Backtest started", data={"timerange": "20240101-20240128"})
            log.warning("Data download retry", data={"attempt": 2}, event="backtest.retry")
            try:
                raise ValueError("bad timerange")
            except ValueError:
                log.exception("Backtest failed")
        at.get_logger("app").debug("plain", data=None)
    assert log_events.events == snapshot


def test_keywords_override_context_for_one_line(log_events: CapturedEvents) -> None:
    """user_id= etc. on a call override the bound value for that line only."""
    log = at.get_logger("app.x")
    with at.bind(user_id="bound"):
        log.info("one", user_id="passed", strategy_id=1, backtest_id=2, correlation_id="c")
        log.info("two")
    first, second = log_events.raw
    assert (first["user_id"], first["strategy_id"], first["backtest_id"]) == ("passed", 1, 2)
    assert first["correlation_id"] == "c"
    assert second["user_id"] == "bound"


def test_a_misspelt_keyword_fails_loudly() -> None:
    """An unknown keyword raises TypeError instead of being dropped."""
    log = at.get_logger("app.x")
    with pytest.raises(TypeError):
        log.info("x", usr_id="u1")


def test_percent_args_format_as_the_stdlib_does(log_events: CapturedEvents) -> None:
    """Positional args and a single mapping argument ("%(key)s") format the message."""
    log = at.get_logger("app.x")
    log.info("v=%s %s", 1, "two")
    log.info("v=%(a)s %(b)s", {"a": 1, "b": "two"})
    messages = [line["message"] for line in log_events.raw]
    assert messages == ["v=1 two", "v=1 two"]


def test_seed_style_extra_is_understood(log_events: CapturedEvents) -> None:
    """extra={"user_id":..., "data": {...}} from the design document lands in the schema."""
    log = at.get_logger("app.users")
    log.info("User created", extra={"user_id": "u9", "data": {"email_domain": "x.org"}, "k": 1})
    (line,) = log_events.raw
    assert line["user_id"] == "u9"
    assert line["data"] == {"k": 1, "email_domain": "x.org"}


def test_extra_places_one_line_in_a_span(log_events: CapturedEvents) -> None:
    """extra={"span_id", "parent_span_id"} sets the line's span fields over the bound span."""
    log = at.get_logger("app.x")
    with at.span("outer", logger="app.x"):
        log.info("in run", extra={"span_id": "00000000000000aa", "parent_span_id": None})
        log.info("plain")
    inner, plain = log_events.raw[1], log_events.raw[2]
    assert (
        inner["span_id"],
        inner["parent_span_id"],
        inner["data"],
    ) == ("00000000000000aa", None, None)
    assert log_events.raw[0]["span_id"] == plain["span_id"]


def test_component_falls_back_to_the_logger_name(log_events: CapturedEvents) -> None:
    """Without an explicit component, component is the logger name; bound component wins."""
    at.get_logger("app.api.routers.users").info("a")
    with at.bind(component="FTBacktesting"):
        at.get_logger("app.util.ft").info("b")
    assert [line["component"] for line in log_events.raw] == [
        "app.api.routers.users",
        "FTBacktesting",
    ]


def test_bound_logger_adds_fields(log_events: CapturedEvents) -> None:
    """logger.bind() adds context fields and data keys to each of its lines."""
    log = at.get_logger("app.x").bind(user_id="u1", request_path="/p")
    log.info("x", data={"n": 1})
    (line,) = log_events.raw
    assert line["user_id"] == "u1"
    assert line["data"] == {"request_path": "/p", "n": 1}


def test_third_party_records_get_the_schema_and_context(log_events: CapturedEvents) -> None:
    """A stdlib logger's record comes out in our schema with the current context."""
    with at.bind(correlation_id="c-7", user_id="u7"):
        logging.getLogger("uvicorn.error").warning("Started %s", "server")
    (line,) = log_events.raw
    assert line["message"] == "Started server"
    assert (line["correlation_id"], line["user_id"], line["component"]) == (
        "c-7",
        "u7",
        "uvicorn.error",
    )
    assert line["data"] is None


def test_a_foreign_data_attribute_is_not_taken_for_ours(log_events: CapturedEvents) -> None:
    """Celery's records pass their message arguments again as extra={'data': ...}: not repeated."""
    context = {"name": "t"}
    logging.getLogger("celery.app.trace").info(
        "Task %(name)s succeeded", context, extra={"data": context}
    )
    (line,) = log_events.raw
    assert line["data"] is None
    assert line["message"] == "Task t succeeded"


def test_exception_object(log_events: CapturedEvents) -> None:
    """logger.exception emits type, message and traceback."""
    log = at.get_logger("app.x")
    try:
        raise KeyError("missing")
    except KeyError:
        log.exception("lookup failed")
    exc = log_events.raw[0]["exception"]
    assert exc["type"] == "KeyError"
    assert exc["message"] == "'missing'"
    assert "Traceback (most recent call last)" in exc["traceback"]
    assert log_events.raw[0]["level"] == "ERROR"


def test_exc_info_accepts_an_exception_instance(log_events: CapturedEvents) -> None:
    """exc_info=<exception> outside an except block still logs the exception."""
    at.get_logger("app.x").error("failed", exc_info=RuntimeError("late"))
    assert log_events.raw[0]["exception"]["type"] == "RuntimeError"


def test_custom_levels_map_to_the_five_names(log_events: CapturedEvents) -> None:
    """A custom level number becomes one of the five standard names."""
    at.get_logger("app.x").log(25, "between info and warning")
    at.get_logger("app.x").log(15, "verbose")
    assert [line["level"] for line in log_events.raw] == ["WARNING", "INFO"]


def test_filtered_calls_build_nothing(log_events: CapturedEvents) -> None:
    """A call below the logger's level emits nothing."""
    logging.getLogger("app.quiet").setLevel(logging.WARNING)
    try:
        at.get_logger("app.quiet").info("hidden")
        at.get_logger("app.quiet").warning("shown")
    finally:
        logging.getLogger("app.quiet").setLevel(logging.NOTSET)
    assert log_events.messages() == ["shown"]


def test_percent_args_and_a_mismatch_never_raise() -> None:
    """%-args are merged; a mismatched format is logged with its arguments, not raised."""
    stdlib_logger = logging.getLogger("app.mismatch")
    stdlib_logger.propagate = False  # pytest's own capture handler raises on a bad format
    try:
        with capture_events(logger="app.mismatch") as captured:
            log = at.get_logger("app.mismatch")
            log.info("%s has %d trades", "alpha", 3)
            log.info("%d trades", "not a number")
    finally:
        stdlib_logger.propagate = True
    assert captured.messages()[0] == "alpha has 3 trades"
    assert "not a number" in captured.messages()[1]


def test_stack_info_goes_into_data(log_events: CapturedEvents) -> None:
    """stack_info=True adds the stack to data."""
    at.get_logger("app.x").info("where", stack_info=True)
    assert "Stack (most recent call last)" in log_events.raw[0]["data"]["stack_info"]


def test_setup_logger_keeps_the_seed_entry_point(log_events: CapturedEvents) -> None:
    """app.util.logger.setup_logger names loggers under app and logs in the schema."""
    from app.util.logger import setup_logger

    setup_logger("db.services.users").info("x")
    setup_logger("app.tasks.backtests", component="BacktestsTask").info("y")
    setup_logger().info("z")
    assert [(line["logger"], line["component"]) for line in log_events.raw] == [
        ("app.db.services.users", "app.db.services.users"),
        ("app.tasks.backtests", "BacktestsTask"),
        ("app", "app"),
    ]


def test_dispatch_follows_the_stdlib_rules() -> None:
    """Logger filters, disabled loggers and propagate=False hold as in the stdlib."""
    child = logging.getLogger("app.dispatch.child")
    with capture_events(logger="app.dispatch") as events:
        log = at.get_logger("app.dispatch.child")
        child.addFilter(lambda record: record.getMessage() != "dropped")
        try:
            log.info("kept")
            log.info("dropped")
            child.disabled = True
            log.info("while disabled")
            child.disabled = False
            child.propagate = False
            log.info("not propagated")
        finally:
            child.filters.clear()
            child.disabled = False
            child.propagate = True
    messages = [line["message"] for line in events.raw]
    assert messages == ["kept"]


def test_a_logger_subclass_that_overrides_handle_is_called() -> None:
    """A Logger class whose handle() is overridden still receives our records."""
    seen: list[str] = []

    class Recording(logging.Logger):
        def handle(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())
            super().handle(record)

    logger = Recording("app.recording")
    at.BoundLogger(logger).info("through %s", "handle")
    assert seen == ["through handle"]


def test_exc_info_as_a_mapping_becomes_the_exception_object(log_events: CapturedEvents) -> None:
    """A traceback known only as text, passed as ``exc_info={...}``, is the line's redacted
    ``exception``; missing keys are null, never an error."""
    log = at.get_logger("tests.relay")
    log.error(
        "relayed failure",
        exc_info={
            "type": "ValueError",
            "message": "bad token=abc123secret",
            "traceback": 'Traceback (most recent call last):\n  File "x.py"\nValueError: bad',
        },
    )
    log.error("partial", exc_info={"type": "KeyError"})
    first, second = log_events.raw[-2:]
    assert first["exception"]["type"] == "ValueError"
    assert "abc123secret" not in first["exception"]["message"]
    assert first["exception"]["traceback"].endswith("ValueError: bad")
    assert second["exception"] == {"type": "KeyError", "message": None, "traceback": None}
