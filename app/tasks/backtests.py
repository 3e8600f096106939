"""``backtests.run``: the Celery task that backtests a stored strategy with Freqtrade.

The API creates the backtest row and publishes this task with the backtest's id. The task loads the
backtest and its strategy, binds ``strategy_id`` and ``backtest_id``, runs
:func:`app.util.ft.run_backtest` (offline: against the exchange stand-in this worker process starts
once, on candles it writes once under ``user_data``), and stores the result or the failure through
:class:`~app.db.services.BacktestsService`. A lost database connection is retried (the backtest
restarts, logged as ``backtest.restarted``); a backtest that fails (bad strategy code, freqtrade
error) is recorded as failed and fails the task, so its state is ``FAILURE``.

The correlation id, user and publisher's span come from the message headers (the Celery
integration restores them), so every line of the run, Freqtrade's included, joins the request that
started it.
"""

from __future__ import annotations

import fcntl
import threading
from typing import Any

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

import agent_tracing as at
from app.db.services import BacktestsService, StateError, StrategiesService
from app.settings import get_settings
from app.util.ft.exchange import LoopbackExchange
from app.util.ft.settings import FtSettings
from app.util.logger import setup_logger

__all__ = ["CANDLE_DAYS", "DEFAULT_TIMERANGE", "PAIRS", "BacktestFailed", "exchange_url", "run"]

log = setup_logger("tasks.backtests", component="BacktestTask")

#: The pairs every backtest trades (the stand-in lists them; candles are written for them).
PAIRS = ("BTC/USDT", "ETH/USDT")
#: Days of synthetic 5m candles written from 2024-01-01.
CANDLE_DAYS = 4
#: The timerange a backtest covers unless the request names one.
DEFAULT_TIMERANGE = "20240101-20240105"


class BacktestFailed(RuntimeError):
    """The backtest ran and failed; the row says why (``error``)."""


class _Worker:
    """What a worker process starts once: the exchange stand-in and the candles."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exchange: LoopbackExchange | None = None
        self.candles_ready = False


_worker = _Worker()


def exchange_url() -> str:
    """The URL of this process's exchange stand-in, started on first use.

    Its request lines take the caller's context: a pool process runs one backtest at a time, so
    the backtest that asks for the URL is the one whose freqtrade calls it next.
    """
    with _worker.lock:
        if _worker.exchange is None:
            _worker.exchange = LoopbackExchange(PAIRS).start()
        _worker.exchange.set_context(at.current_context())
        return _worker.exchange.api_url


def _ensure_candles(settings: FtSettings) -> None:
    """Write the synthetic candles once; a file lock keeps pool processes from racing."""
    if _worker.candles_ready:
        return
    from app.util.ft.data import generate_ohlcv
    from app.util.ft.userdir import prepare_user_data

    user_data = prepare_user_data(settings.user_data_dir, settings.exchange)
    marker = user_data.datadir / ".candles-ready"
    with open(user_data.root / ".candles.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not marker.exists():
                generate_ohlcv(user_data.datadir, PAIRS, days=CANDLE_DAYS)
                marker.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _worker.candles_ready = True


@shared_task(
    name="backtests.run",
    bind=True,
    autoretry_for=(OperationalError,),
    max_retries=2,
    retry_backoff=1,
    retry_jitter=False,
)
def run(self: Task, backtest_id: int) -> dict[str, Any]:
    """Backtest the strategy of backtest ``backtest_id`` and store the outcome.

    Returns:
        ``{"backtest_id", "status", "summary"}``; the status is ``finished`` (or the stored status
        when the backtest had already ended).

    Raises:
        BacktestFailed: The backtest failed; the row is marked failed with the error.
    """
    backtests = BacktestsService()
    with at.bind(backtest_id=backtest_id):
        try:
            backtest = backtests.start_backtest(backtest_id)
        except StateError:
            # A message delivered again after the run ended: the stored outcome stands.
            done = backtests.get_backtest(backtest_id)
            return {"backtest_id": backtest_id, "status": done.status.value, "summary": None}
        with at.bind(strategy_id=backtest.strategy_id):
            strategy = StrategiesService().get_strategy(backtest.strategy_id)
            if not strategy.code or not strategy.class_name:
                backtests.fail_backtest(backtest_id, "the strategy has no code")
                raise BacktestFailed("the strategy has no code")
            from app.util.ft import run_backtest

            settings = get_settings().ft_settings()
            _ensure_candles(settings)
            try:
                outcome = run_backtest(
                    strategy.code,
                    strategy.class_name,
                    strategy_id=strategy.id,
                    backtest_id=backtest_id,
                    pairs=PAIRS,
                    timerange=backtest.timerange,
                    settings=settings,
                    exchange_api_url=exchange_url() if settings.offline else None,
                )
            except ValueError as exc:  # code that does not parse: freqtrade never started
                backtests.fail_backtest(backtest_id, str(exc))
                raise BacktestFailed(str(exc)) from exc
            if not outcome.ok:
                error = "; ".join(outcome.result.errors) or f"freqtrade {outcome.result.status}"
                backtests.fail_backtest(backtest_id, error)
                raise BacktestFailed(error)
            backtests.finish_backtest(backtest_id, outcome.summary, str(outcome.results_dir))
            return {"backtest_id": backtest_id, "status": "finished", "summary": outcome.summary}
