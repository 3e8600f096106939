"""Backtest routes: start a backtest of a strategy (a Celery task runs it), read its status.

``POST /strategies/{strategy_id}/backtests`` creates the row through ``BacktestsService`` (with
``strategy_id`` and then ``backtest_id`` bound) and publishes ``backtests.run``: the task's
message carries the request's correlation id, user, ids and span, so the worker's lines join the
request. ``GET /backtests/{backtest_id}`` answers its status, result summary or error.
"""

from __future__ import annotations

import functools
import uuid

from celery import Celery
from fastapi import APIRouter, Request

import agent_tracing as at
from app.api.routers.schemas import BacktestIn, BacktestOut
from app.celery.factory import create_celery_app
from app.db.services import BacktestsService
from app.db.utils.decorators import require_user
from app.tasks.backtests import DEFAULT_TIMERANGE

__all__ = ["TASK_NAME", "celery_app", "router"]

router = APIRouter(tags=["backtests"])
#: The task that runs a backtest (``app.tasks.backtests.run``).
TASK_NAME = "backtests.run"


@functools.cache
def celery_app() -> Celery:
    """The Celery app this process publishes with (broker and backend from the settings)."""
    return create_celery_app()


@router.post("/strategies/{strategy_id}/backtests", status_code=202, response_model=BacktestOut)
@require_user
def start_backtest(
    request: Request, strategy_id: int, body: BacktestIn | None = None
) -> BacktestOut:
    """Queue a backtest of the user's ready strategy; poll ``GET /backtests/{id}`` for it."""
    timerange = (body.timerange if body else None) or DEFAULT_TIMERANGE
    backtests = BacktestsService()
    with at.bind(strategy_id=strategy_id):
        backtest = backtests.create_backtest(strategy_id, request.state.user_id, timerange)
        with at.bind(backtest_id=backtest.id):
            # The id is stored before the message exists, so a fast worker finds it set.
            task_id = str(uuid.uuid4())
            queued = backtests.set_task_id(backtest.id, task_id)
            celery_app().send_task(TASK_NAME, args=[backtest.id], task_id=task_id)
            return BacktestOut.of(queued)


@router.get("/backtests/{backtest_id}", response_model=BacktestOut)
@require_user
def read_backtest(request: Request, backtest_id: int) -> BacktestOut:
    """The user's backtest ``backtest_id``: status, attempts, result summary or error."""
    with at.bind(backtest_id=backtest_id):
        backtest = BacktestsService().get_backtest(backtest_id, request.state.user_id)
        with at.bind(strategy_id=backtest.strategy_id):
            return BacktestOut.of(backtest)
