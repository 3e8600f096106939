"""Backtests: by id, by strategy; inserts and updates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from app.db.models import Backtest
from app.db.repositories.base import Repository
from app.util.logger import setup_logger

__all__ = ["BacktestsRepository"]


class BacktestsRepository(Repository):
    """Queries of the ``backtests`` table."""

    log = setup_logger(__name__, component="BacktestsRepository")

    def get(self, backtest_id: int) -> Backtest | None:
        """The backtest with this id, or ``None``."""
        return self.session.get(Backtest, backtest_id)

    def list_for_strategy(self, strategy_id: int) -> Sequence[Backtest]:
        """The strategy's backtests, newest first."""
        query = (
            select(Backtest).where(Backtest.strategy_id == strategy_id).order_by(Backtest.id.desc())
        )
        return self.session.scalars(query).all()

    def add(self, backtest: Backtest) -> Backtest:
        """Insert ``backtest`` (its id is set on return)."""
        return self._add(backtest)

    def update(self, backtest: Backtest, **values: Any) -> Backtest:
        """Set ``values`` on ``backtest`` and flush."""
        return self._update(backtest, **values)
