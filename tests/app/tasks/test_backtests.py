"""The backtest task in process: a retried attempt keeps the request's context and ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

import agent_tracing as at
from agent_tracing.celery import uninstrument_celery
from agent_tracing.testing import CapturedEvents
from app.celery.factory import create_celery_app
from app.db.models import BacktestStatus
from app.db.services import BacktestsService, StrategiesService
from app.db.session import get_database, reset_database
from app.settings import get_settings
from app.tasks import backtests


@pytest.fixture
def app_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process's settings and database on a fresh data dir; Celery instrumented."""
    monkeypatch.setenv("GENTRADE_DATA_DIR", str(tmp_path))
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    reset_database()
    uninstrument_celery()
    create_celery_app(data_dir=str(tmp_path / "celery"))
    try:
        yield tmp_path
    finally:
        uninstrument_celery()
        reset_database()
        get_settings.cache_clear()


def test_a_lost_connection_is_retried_in_the_requests_context(
    app_data: Path, log_events: CapturedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OperationalError retries the task; the retry restarts the backtest (WARNING), and every
    task line of both attempts carries the request's id, user, strategy and backtest."""
    get_database()
    strategies = StrategiesService()
    strategy = strategies.create_strategy("user_7", "An SMA crossover 10/30")
    # Code that does not parse fails the backtest before freqtrade starts (a quick end).
    strategies.save_code(strategy.id, "class Nothing(:\n", "Nothing")
    backtest = BacktestsService().create_backtest(strategy.id, "user_7", "20240101-20240105")
    monkeypatch.setattr(backtests, "_ensure_candles", lambda settings: None)
    real_get = StrategiesService.get_strategy
    calls: list[int] = []

    def flaky_get(self: StrategiesService, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
        return real_get(self, *args, **kwargs)

    monkeypatch.setattr(StrategiesService, "get_strategy", flaky_get)
    monkeypatch.setattr(backtests.run, "retry_backoff", False)
    ids = {"user_id": "user_7", "strategy_id": strategy.id, "backtest_id": backtest.id}
    with at.bind(correlation_id="cid-retry", **ids):
        result = backtests.run.apply(args=[backtest.id])
    assert isinstance(result.result, backtests.BacktestFailed)
    assert BacktestsService().get_backtest(backtest.id).status is BacktestStatus.FAILED
    task_lines = [e for e in log_events.raw if (e["event"] or "").startswith("task.")]
    assert "task.retried" in {e["event"] for e in task_lines}
    assert {(e["correlation_id"], e["user_id"], e["backtest_id"]) for e in task_lines} == {
        ("cid-retry", "user_7", backtest.id)
    }
    restarted = [e for e in log_events.raw if e["event"] == "backtest.restarted"]
    assert [(r["level"], r["correlation_id"]) for r in restarted] == [("WARNING", "cid-retry")]
    assert len(calls) == 2
