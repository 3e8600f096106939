"""A service span keeps its own status: the backtest's status is data of its own."""

from __future__ import annotations

import agent_tracing as at
from agent_tracing.testing import CapturedEvents
from app.db.models import BacktestStatus
from app.db.services import BacktestsService, StrategiesService
from app.db.session import Database

CODE = "class RsiStrategy(IStrategy):\n    timeframe = '5m'\n"


def test_get_backtest_ends_ok_with_the_backtest_status_beside(
    sqlite_db: Database, log_events: CapturedEvents
) -> None:
    """get_backtest's end line says status "ok" and the backtest's own status as backtest_status."""
    strategies = StrategiesService(sqlite_db.sessions)
    backtests = BacktestsService(sqlite_db.sessions)
    with at.bind(user_id="user_1"):
        strategy = strategies.create_strategy("user_1", "a prompt")
        strategies.save_code(strategy.id, CODE, "RsiStrategy")
        backtest = backtests.create_backtest(strategy.id, "user_1", "20240101-20240201")
        log_events.clear()
        backtests.get_backtest(backtest.id)
    (end,) = log_events.by_event("service.end")
    assert (end["data"]["status"], end["data"]["backtest_status"]) == (
        "ok",
        BacktestStatus.PENDING.value,
    )
