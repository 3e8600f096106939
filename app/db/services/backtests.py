"""BacktestsService: a backtest's life, pending, running, finished or failed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import Backtest, BacktestStatus, StrategyStatus
from app.db.repositories import BacktestsRepository
from app.db.services.base import Service, ServiceSpan
from app.db.services.errors import NotFoundError, StateError
from app.db.services.strategies import _owned as _owned_strategy
from app.db.services.users import ensure_user
from app.util.logger import setup_logger

__all__ = ["BacktestsService"]

_OPEN = (BacktestStatus.PENDING, BacktestStatus.RUNNING)


def _owned(session: Session, backtest_id: int, clerk_id: str | None) -> Backtest:
    backtest = BacktestsRepository(session).get(backtest_id)
    if backtest is None or (clerk_id is not None and backtest.strategy.user.clerk_id != clerk_id):
        raise NotFoundError(f"backtest {backtest_id} not found")
    return backtest


class BacktestsService(Service):
    """Backtests of ready strategies. Logs ``backtest.created``, ``backtest.queued``,
    ``backtest.started``, ``backtest.finished`` (INFO), ``backtest.restarted`` (WARNING, a retry)
    and ``backtest.failed`` (ERROR), with ``backtest_id`` and ``strategy_id`` bound."""

    component = "BacktestsService"
    log = setup_logger(__name__, component=component)

    def create_backtest(self, strategy_id: int, clerk_id: str, timerange: str) -> Backtest:
        """Queue a backtest of the user's strategy over ``timerange`` (``20240101-20240201``).

        Raises:
            NotFoundError: No such strategy for this user.
            StateError: The strategy has no code yet.
        """
        with self.span("create_backtest", strategy_id=strategy_id, user_id=clerk_id) as sp:
            with self.sessions.begin() as session:
                strategy = _owned_strategy(session, strategy_id, clerk_id)
                if strategy.status is not StrategyStatus.READY:
                    raise StateError(
                        f"strategy {strategy_id} is {strategy.status.value}, not ready"
                    )
                user = ensure_user(session, clerk_id)
                backtest = BacktestsRepository(session).add(
                    Backtest(strategy_id=strategy_id, user_id=user.id, timerange=timerange)
                )
                sp.bind(backtest_id=backtest.id)
            self.log.info(
                "Backtest created",
                event="backtest.created",
                data={"timerange": timerange, "class_name": strategy.class_name},
            )
            return backtest

    def set_task_id(self, backtest_id: int, task_id: str) -> Backtest:
        """Remember the id of the task that will run the backtest."""
        with self.span("set_task_id", level=logging.DEBUG, backtest_id=backtest_id) as sp:
            backtest = self._change(sp, backtest_id, _OPEN, task_id=task_id)
            self.log.info("Backtest queued", event="backtest.queued", data={"task_id": task_id})
            return backtest

    def start_backtest(self, backtest_id: int) -> Backtest:
        """Mark the backtest running (again, on a retry: logged as a restart).

        Raises:
            NotFoundError: No such backtest.
            StateError: It already finished or failed.
        """
        with self.span("start_backtest", backtest_id=backtest_id) as sp:
            with self.sessions.begin() as session:
                backtest = self._load(sp, session, backtest_id, _OPEN)
                restarted = backtest.status is BacktestStatus.RUNNING
                BacktestsRepository(session).update(
                    backtest,
                    status=BacktestStatus.RUNNING,
                    started_at=_now(),
                    attempts=backtest.attempts + 1,
                )
            data = {"date_range": backtest.timerange, "attempt": backtest.attempts}
            if restarted:
                self.log.warning("Backtest restarted", event="backtest.restarted", data=data)
            else:
                self.log.info("Backtest started", event="backtest.started", data=data)
            return backtest

    def finish_backtest(
        self, backtest_id: int, result_summary: dict[str, Any], result_path: str | None = None
    ) -> Backtest:
        """Store the result of a finished backtest."""
        with self.span("finish_backtest", backtest_id=backtest_id) as sp:
            backtest = self._change(
                sp,
                backtest_id,
                _OPEN,
                status=BacktestStatus.FINISHED,
                result_summary=result_summary,
                result_path=result_path,
                finished_at=_now(),
                error=None,
            )
            self.log.info(
                "Backtest finished",
                event="backtest.finished",
                data={"summary": result_summary, "result_path": result_path},
            )
            return backtest

    def fail_backtest(self, backtest_id: int, error: str) -> Backtest:
        """Record that the backtest failed with ``error``."""
        with self.span("fail_backtest", backtest_id=backtest_id) as sp:
            backtest = self._change(
                sp,
                backtest_id,
                _OPEN,
                status=BacktestStatus.FAILED,
                error=error,
                finished_at=_now(),
            )
            self.log.error("Backtest failed", event="backtest.failed", data={"error": error})
            return backtest

    def get_backtest(self, backtest_id: int, clerk_id: str | None = None) -> Backtest:
        """The backtest, if it exists and (when ``clerk_id`` is given) belongs to that user.

        Raises:
            NotFoundError: No such backtest for this user.
        """
        with self.span("get_backtest", level=logging.DEBUG, backtest_id=backtest_id) as sp:
            with self.sessions.begin() as session:
                backtest = _owned(session, backtest_id, clerk_id)
                sp.bind(strategy_id=backtest.strategy_id)
            sp.set(backtest_status=backtest.status.value)
            return backtest

    # -- helpers ---------------------------------------------------------------------------------
    def _load(
        self,
        sp: ServiceSpan,
        session: Session,
        backtest_id: int,
        allowed: tuple[BacktestStatus, ...],
    ) -> Backtest:
        backtest = _owned(session, backtest_id, None)
        sp.bind(strategy_id=backtest.strategy_id)
        if backtest.status not in allowed:
            raise StateError(f"backtest {backtest_id} is already {backtest.status.value}")
        return backtest

    def _change(
        self,
        sp: ServiceSpan,
        backtest_id: int,
        allowed: tuple[BacktestStatus, ...],
        **values: Any,
    ) -> Backtest:
        with self.sessions.begin() as session:
            backtest = self._load(sp, session, backtest_id, allowed)
            return BacktestsRepository(session).update(backtest, **values)


def _now() -> datetime:
    return datetime.now(UTC)
