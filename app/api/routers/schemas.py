"""Request and response bodies of the strategy and backtest routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.db.models import Backtest, Strategy

__all__ = ["BacktestIn", "BacktestOut", "StrategyIn", "StrategyOut"]

#: A Freqtrade timerange, ``YYYYMMDD-YYYYMMDD``.
TIMERANGE_PATTERN = r"^\d{8}-\d{8}$"


class StrategyIn(BaseModel):
    """A strategy request: what it should do, in words."""

    prompt: str = Field(min_length=3, max_length=2000)
    name: str | None = Field(default=None, max_length=200)


class StrategyOut(BaseModel):
    """A stored strategy (and, right after its creation, the agents' draft)."""

    id: int
    name: str
    prompt: str
    status: str
    class_name: str | None
    code: str | None
    error: str | None
    created_at: datetime
    draft: dict[str, Any] | None = None

    @classmethod
    def of(cls, strategy: Strategy, draft: dict[str, Any] | None = None) -> StrategyOut:
        """The response body of ``strategy``."""
        return cls(
            id=strategy.id,
            name=strategy.name,
            prompt=strategy.prompt,
            status=strategy.status.value,
            class_name=strategy.class_name,
            code=strategy.code,
            error=strategy.error,
            created_at=strategy.created_at,
            draft=draft,
        )


class BacktestIn(BaseModel):
    """A backtest request: the timerange to cover (default the candles the worker holds)."""

    timerange: str | None = Field(default=None, pattern=TIMERANGE_PATTERN)


class BacktestOut(BaseModel):
    """A backtest's status and, once finished, its result summary (or its error)."""

    id: int
    strategy_id: int
    status: str
    timerange: str
    task_id: str | None
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, backtest: Backtest) -> BacktestOut:
        """The response body of ``backtest``."""
        return cls(
            id=backtest.id,
            strategy_id=backtest.strategy_id,
            status=backtest.status.value,
            timerange=backtest.timerange,
            task_id=backtest.task_id,
            attempts=backtest.attempts,
            result=backtest.result_summary,
            error=backtest.error,
            created_at=backtest.created_at,
            started_at=backtest.started_at,
            finished_at=backtest.finished_at,
        )
