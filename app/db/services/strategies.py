"""StrategiesService: a strategy from a prompt, its generated code, its failure."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.db.models import Strategy, StrategyStatus
from app.db.repositories import StrategiesRepository, UsersRepository
from app.db.services.base import Service
from app.db.services.errors import NotFoundError
from app.db.services.users import ensure_user
from app.util.logger import setup_logger

__all__ = ["StrategiesService"]


def _owned(session: Session, strategy_id: int, clerk_id: str | None) -> Strategy:
    strategy = StrategiesRepository(session).get(strategy_id)
    if strategy is None or (clerk_id is not None and strategy.user.clerk_id != clerk_id):
        raise NotFoundError(f"strategy {strategy_id} not found")
    return strategy


class StrategiesService(Service):
    """Strategies: created from a user's prompt (draft), given code by the agents (ready), or
    failed. Logs ``strategy.created``, ``strategy.code_saved`` (INFO), ``strategy.code`` (DEBUG,
    the code itself) and ``strategy.failed`` (ERROR), with ``strategy_id`` bound."""

    component = "StrategiesService"
    log = setup_logger(__name__, component=component)

    def create_strategy(self, clerk_id: str, prompt: str, name: str | None = None) -> Strategy:
        """Store a draft strategy for the user's prompt (the user row is created if new)."""
        with self.span("create_strategy", user_id=clerk_id) as sp:
            with self.sessions.begin() as session:
                user = ensure_user(session, clerk_id)
                strategy = StrategiesRepository(session).add(
                    Strategy(user_id=user.id, name=name or _default_name(prompt), prompt=prompt)
                )
                sp.bind(strategy_id=strategy.id)
            self.log.info(
                "Strategy created",
                event="strategy.created",
                data={"name": strategy.name, "prompt": prompt},
            )
            return strategy

    def save_code(self, strategy_id: int, code: str, class_name: str) -> Strategy:
        """Store the generated code and its class name; the strategy is ready to backtest."""
        with self.span("save_code", strategy_id=strategy_id):
            with self.sessions.begin() as session:
                strategy = _owned(session, strategy_id, None)
                StrategiesRepository(session).update(
                    strategy,
                    code=code,
                    class_name=class_name,
                    status=StrategyStatus.READY,
                    error=None,
                )
            self.log.info(
                "Strategy code saved",
                event="strategy.code_saved",
                data={"class_name": class_name, "code_lines": code.count("\n") + 1},
            )
            self.log.debug(
                "Strategy code",
                event="strategy.code",
                data={"class_name": class_name, "code": code},
            )
            return strategy

    def mark_failed(self, strategy_id: int, error: str) -> Strategy:
        """Record that the strategy could not be generated."""
        with self.span("mark_failed", strategy_id=strategy_id):
            with self.sessions.begin() as session:
                strategy = _owned(session, strategy_id, None)
                StrategiesRepository(session).update(
                    strategy, status=StrategyStatus.FAILED, error=error
                )
            self.log.error("Strategy failed", event="strategy.failed", data={"error": error})
            return strategy

    def get_strategy(self, strategy_id: int, clerk_id: str | None = None) -> Strategy:
        """The strategy, if it exists and (when ``clerk_id`` is given) belongs to that user.

        Raises:
            NotFoundError: No such strategy for this user.
        """
        with self.span("get_strategy", level=logging.DEBUG, strategy_id=strategy_id):
            with self.sessions.begin() as session:
                return _owned(session, strategy_id, clerk_id)

    def list_strategies(self, clerk_id: str) -> Sequence[Strategy]:
        """The user's strategies, newest first."""
        with self.span("list_strategies", level=logging.DEBUG, user_id=clerk_id) as sp:
            with self.sessions.begin() as session:
                user = UsersRepository(session).get_by_clerk_id(clerk_id)
                rows = [] if user is None else StrategiesRepository(session).list_for_user(user.id)
            sp.set(count=len(rows))
            return rows


def _default_name(prompt: str) -> str:
    words = " ".join(prompt.split()[:8])
    return words[:200] or "Untitled strategy"
