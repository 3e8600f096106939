"""Strategies: by id, by owner; inserts and updates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from app.db.models import Strategy
from app.db.repositories.base import Repository
from app.util.logger import setup_logger

__all__ = ["StrategiesRepository"]


class StrategiesRepository(Repository):
    """Queries of the ``strategies`` table."""

    log = setup_logger(__name__, component="StrategiesRepository")

    def get(self, strategy_id: int) -> Strategy | None:
        """The strategy with this id, or ``None``."""
        return self.session.get(Strategy, strategy_id)

    def list_for_user(self, user_id: int) -> Sequence[Strategy]:
        """The user's strategies, newest first."""
        query = select(Strategy).where(Strategy.user_id == user_id).order_by(Strategy.id.desc())
        return self.session.scalars(query).all()

    def add(self, strategy: Strategy) -> Strategy:
        """Insert ``strategy`` (its id is set on return)."""
        return self._add(strategy)

    def update(self, strategy: Strategy, **values: Any) -> Strategy:
        """Set ``values`` on ``strategy`` and flush."""
        return self._update(strategy, **values)
