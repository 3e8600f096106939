"""Services: their events, levels, components and ids, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text
from syrupy.assertion import SnapshotAssertion

import agent_tracing as at
from agent_tracing.testing import CapturedEvents
from app.db.models import BacktestStatus, StrategyStatus
from app.db.services import (
    BacktestsService,
    NotFoundError,
    StateError,
    StrategiesService,
    UsersService,
)
from app.db.session import Database

CODE = "class RsiStrategy(IStrategy):\n    timeframe = '5m'\n"


def _app_lines(log_events: CapturedEvents) -> list[dict[str, Any]]:
    return [e for e in log_events.events if e["logger"].startswith("app.")]


def _known(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in lines if e["logger"].startswith("app.") and e["event"] != "service.start"]


def _flow(database: Database) -> tuple[int, int]:
    strategies = StrategiesService(database.sessions)
    backtests = BacktestsService(database.sessions)
    with at.bind(correlation_id=at.new_correlation_id(), user_id="user_123"):
        strategy = strategies.create_strategy("user_123", "Buy when RSI is below 30")
        strategies.save_code(strategy.id, CODE, "RsiStrategy")
        backtest = backtests.create_backtest(strategy.id, "user_123", "20240101-20240128")
        backtests.set_task_id(backtest.id, "task-1")
        backtests.start_backtest(backtest.id)
        backtests.finish_backtest(
            backtest.id, {"trades": 12, "profit_pct": 3.5}, "/data/backtest-result.json"
        )
    return strategy.id, backtest.id


def test_create_and_backtest_flow_logs_its_events_with_ids(
    any_db: Database, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """A strategy created, coded and backtested: INFO events of each service with its component,
    strategy_id bound from the insert on and backtest_id from its insert on, one correlation id
    on every line (SQL included)."""
    log_events.clear()
    strategy_id, backtest_id = _flow(any_db)
    raw = log_events.raw
    events = [(e["component"], e["event"]) for e in raw if e["level"] == "INFO"]
    assert [ev for ev in events if not ev[1].startswith("service.")] == [
        ("UsersService", "user.created"),
        ("StrategiesService", "strategy.created"),
        ("StrategiesService", "strategy.code_saved"),
        ("BacktestsService", "backtest.created"),
        ("BacktestsService", "backtest.queued"),
        ("BacktestsService", "backtest.started"),
        ("BacktestsService", "backtest.finished"),
    ]
    assert len({e["correlation_id"] for e in raw}) == 1
    assert {e["user_id"] for e in raw} == {"user_123"}
    # From the insert on, every app line knows the id; a method given only a backtest id learns
    # the strategy id when it loads the row, so only its start line (and the load) lack it.
    created = raw.index(log_events.by_event("db.row.inserted")[1])  # the strategy row
    assert {e["strategy_id"] for e in _known(raw[created + 1 :])} == {strategy_id}
    inserted = raw.index(log_events.by_event("db.row.inserted")[2])  # the backtest row
    assert {e["backtest_id"] for e in raw[inserted + 1 :]} == {backtest_id}
    [started] = log_events.by_event("backtest.started")
    assert started["data"] == {"date_range": "20240101-20240128", "attempt": 1}
    # Every SQL line sits in a service span, under the service's span id.
    spans = {e["span_id"] for e in log_events.by_event("service.start")}
    assert {e["span_id"] for e in raw if (e["event"] or "").startswith("db.")} <= spans
    assert _app_lines(log_events) == snapshot


def test_service_spans_bind_the_component_and_end_with_the_ids(
    sqlite_db: Database, log_events: CapturedEvents
) -> None:
    """Each service method is one span of kind service; its end line carries the ids learnt."""
    strategy = StrategiesService(sqlite_db.sessions).create_strategy("user_1", "prompt")
    [start] = log_events.by_event("service.start")
    [end] = log_events.by_event("service.end")
    assert (start["component"], start["strategy_id"], start["data"]["span"]) == (
        "StrategiesService",
        None,
        "StrategiesService.create_strategy",
    )
    assert (end["span_id"], end["strategy_id"], end["data"]["status"]) == (
        start["span_id"],
        strategy.id,
        "ok",
    )
    assert at.current_context() == {}


def test_a_failed_backtest_is_an_error_with_the_reason_redacted(
    sqlite_db: Database, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """fail_backtest: ERROR backtest.failed with the error (secrets in it redacted), status
    failed, and a later start is refused (WARNING, status conflict)."""
    strategy_id, _ = _flow(sqlite_db)
    backtests = BacktestsService(sqlite_db.sessions)
    backtest = backtests.create_backtest(strategy_id, "user_123", "20240201-20240301")
    backtests.start_backtest(backtest.id)
    log_events.clear()
    error = "connect postgresql://gentrade:hunter2@db/app failed: no strategy class"
    failed = backtests.fail_backtest(backtest.id, error)
    assert (failed.status, failed.error) == (BacktestStatus.FAILED, error)
    with pytest.raises(StateError):
        backtests.start_backtest(backtest.id)
    [line] = log_events.by_event("backtest.failed")
    assert (line["level"], line["component"], line["backtest_id"], line["strategy_id"]) == (
        "ERROR",
        "BacktestsService",
        backtest.id,
        strategy_id,
    )
    assert "hunter2" not in json.dumps(log_events.raw)
    refused = log_events.by_event("service.end")[-1]
    assert (refused["level"], refused["data"]["status"]) == ("WARNING", "conflict")
    assert _app_lines(log_events) == snapshot


def test_a_retried_start_is_a_warning(sqlite_db: Database, log_events: CapturedEvents) -> None:
    """Starting a running backtest again (a task retry) is allowed and logged at WARNING."""
    strategy_id, _ = _flow(sqlite_db)
    backtests = BacktestsService(sqlite_db.sessions)
    backtest = backtests.create_backtest(strategy_id, "user_123", "20240201-20240301")
    backtests.start_backtest(backtest.id)
    again = backtests.start_backtest(backtest.id)
    [line] = log_events.by_event("backtest.restarted")
    assert (line["level"], line["data"]["attempt"], again.attempts) == ("WARNING", 2, 2)


def test_refused_requests_are_warnings_not_errors(
    sqlite_db: Database, log_events: CapturedEvents
) -> None:
    """Another user's strategy is not found; a draft cannot be backtested: the span ends at
    WARNING with its status, no ERROR line, no traceback."""
    strategies = StrategiesService(sqlite_db.sessions)
    backtests = BacktestsService(sqlite_db.sessions)
    draft = strategies.create_strategy("user_1", "a prompt")
    log_events.clear()
    with pytest.raises(NotFoundError):
        strategies.get_strategy(draft.id, "user_2")
    with pytest.raises(StateError):
        backtests.create_backtest(draft.id, "user_1", "20240101-20240201")
    with pytest.raises(NotFoundError):
        backtests.get_backtest(999)
    ends = log_events.by_event("service.end")
    assert [(e["level"], e["data"]["status"]) for e in ends] == [
        ("WARNING", "not_found"),
        ("WARNING", "conflict"),
        ("WARNING", "not_found"),
    ]
    assert [e for e in log_events.raw if e["level"] in ("ERROR", "CRITICAL")] == []
    assert all("exception" not in e for e in ends)


def test_a_database_failure_ends_the_span_at_error(
    sqlite_db: Database, log_events: CapturedEvents
) -> None:
    """An unexpected database error: ERROR db.query.error, then the service span ends at ERROR
    with the exception, and it propagates."""
    with sqlite_db.engine.begin() as conn:
        conn.execute(text("DROP TABLE backtests"))
    log_events.clear()
    with pytest.raises(Exception, match="no such table"):
        BacktestsService(sqlite_db.sessions).get_backtest(1)
    levels = [(e["event"], e["level"]) for e in log_events.raw if e["level"] == "ERROR"]
    assert levels == [("db.query.error", "ERROR"), ("service.end", "ERROR")]
    assert log_events.by_event("service.end")[0]["exception"]["type"].endswith("OperationalError")


def test_strategy_code_and_failure_events(sqlite_db: Database, log_events: CapturedEvents) -> None:
    """save_code logs the class at INFO and the code at DEBUG; mark_failed is an ERROR line."""
    strategies = StrategiesService(sqlite_db.sessions)
    strategy = strategies.create_strategy("user_1", "a prompt", name="Mine")
    saved = strategies.save_code(strategy.id, CODE, "RsiStrategy")
    [code] = log_events.by_event("strategy.code")
    assert (saved.status, code["level"], code["data"]["code"]) == (
        StrategyStatus.READY,
        "DEBUG",
        CODE,
    )
    failed = strategies.mark_failed(strategy.id, "tool crashed")
    [line] = log_events.by_event("strategy.failed")
    assert (failed.status, line["level"], line["strategy_id"]) == (
        StrategyStatus.FAILED,
        "ERROR",
        strategy.id,
    )
    assert [s.id for s in strategies.list_strategies("user_1")] == [strategy.id]
    assert strategies.list_strategies("nobody") == []


def test_users_are_created_once(sqlite_db: Database, log_events: CapturedEvents) -> None:
    """ensure_user inserts the Clerk user once; later calls find it without a user.created."""
    users = UsersService(sqlite_db.sessions)
    first = users.ensure_user("user_9", "nine@example.com")
    second = users.ensure_user("user_9")
    assert (first.id, second.email) == (second.id, "nine@example.com")
    assert [e["user_id"] for e in log_events.by_event("user.created")] == ["user_9"]
