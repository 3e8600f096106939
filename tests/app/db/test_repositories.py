"""Repositories: queries on the caller's session, each write a DEBUG line with its component."""

from __future__ import annotations

from agent_tracing.testing import CapturedEvents
from app.db.models import Backtest, Strategy, User
from app.db.repositories import BacktestsRepository, StrategiesRepository, UsersRepository
from app.db.session import Database


def test_repositories_read_and_write_on_the_callers_session(
    any_db: Database, log_events: CapturedEvents
) -> None:
    """Inserts get ids and DEBUG db.row.inserted lines; reads find rows; nothing is committed
    until the caller's transaction is."""
    with any_db.sessions.begin() as session:
        user = UsersRepository(session).add(User(clerk_id="user_1"))
        strategies = StrategiesRepository(session)
        first = strategies.add(Strategy(user_id=user.id, name="a", prompt="p"))
        second = strategies.add(Strategy(user_id=user.id, name="b", prompt="q"))
        strategies.update(first, class_name="A")
        backtests = BacktestsRepository(session)
        backtest = backtests.add(Backtest(strategy_id=first.id, user_id=user.id, timerange="x-"))
        assert [s.id for s in strategies.list_for_user(user.id)] == [second.id, first.id]
        assert [b.id for b in backtests.list_for_strategy(first.id)] == [backtest.id]
    with any_db.sessions() as session:
        assert UsersRepository(session).get_by_clerk_id("user_1") is not None
        assert UsersRepository(session).get_by_clerk_id("user_2") is None
        assert StrategiesRepository(session).get(first.id).class_name == "A"  # type: ignore[union-attr]
        assert BacktestsRepository(session).get(backtest.id + 1) is None
    writes = [
        (e["level"], e["component"], e["event"], e["data"]["table"])
        for e in log_events.raw
        if (e["event"] or "").startswith("db.row.")
    ]
    assert writes == [
        ("DEBUG", "UsersRepository", "db.row.inserted", "users"),
        ("DEBUG", "StrategiesRepository", "db.row.inserted", "strategies"),
        ("DEBUG", "StrategiesRepository", "db.row.inserted", "strategies"),
        ("DEBUG", "StrategiesRepository", "db.row.updated", "strategies"),
        ("DEBUG", "BacktestsRepository", "db.row.inserted", "backtests"),
    ]


def test_a_rolled_back_transaction_keeps_nothing(
    sqlite_db: Database, log_events: CapturedEvents
) -> None:
    """An exception in the caller's transaction rolls the insert back (db.transaction.rollback)."""
    try:
        with sqlite_db.sessions.begin() as session:
            UsersRepository(session).add(User(clerk_id="ghost"))
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    with sqlite_db.sessions() as session:
        assert UsersRepository(session).get_by_clerk_id("ghost") is None
    assert log_events.by_event("db.transaction.rollback")
