"""Backtesting a strategy with the real freqtrade CLI: the app's ``FTBacktesting`` flow.

``run_backtest(code, class_name, strategy_id=..., backtest_id=...)`` prepares user_data, writes the
config and the strategy into a folder of this backtest, runs ``freqtrade backtesting --cache none``
into it (offline: with the exchange stand-in) and reads the results back. Every step is logged with
the strategy and backtest ids, inside one ``ft.backtest`` span.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import agent_tracing as at
from agent_tracing.freqtrade import DockerOptions, FreqtradeResult, FreqtradeRunner
from app.util.ft.exchange import LoopbackExchange
from app.util.ft.settings import FtSettings, ft_settings_from_env
from app.util.ft.strategy import write_strategy
from app.util.ft.userdir import prepare_user_data, write_config
from app.util.logger import setup_logger

__all__ = [
    "BacktestRun",
    "backtest_args",
    "container_path",
    "freqtrade_runner",
    "read_backtest_results",
    "run_backtest",
]

log = setup_logger("util.ft.backtesting", component="FTBacktesting")
CONTAINER_USER_DATA = "/freqtrade/user_data"
_SUMMARY_KEYS = (
    "total_trades",
    "profit_total",
    "profit_total_abs",
    "wins",
    "draws",
    "losses",
    "max_drawdown_abs",
    "final_balance",
    "backtest_start",
    "backtest_end",
)


@dataclass
class BacktestRun:
    """What one backtest did.

    Attributes:
        strategy_id: The strategy's id.
        backtest_id: The backtest's id.
        ok: Freqtrade succeeded and its results were read.
        directory: The backtest's folder (config, strategy, results).
        results_dir: Where freqtrade wrote its results.
        result: The freqtrade command's result (status, errors, output files...).
        stats: The strategy's full statistics from the result file, when there is one.
    """

    strategy_id: Any
    backtest_id: Any
    ok: bool
    directory: Path
    results_dir: Path
    result: FreqtradeResult
    stats: dict[str, Any] | None

    @property
    def summary(self) -> dict[str, Any]:
        """Trades, profit and drawdown of the strategy (empty without results)."""
        return {k: self.stats.get(k) for k in _SUMMARY_KEYS} if self.stats else {}


def backtest_args(
    *,
    config: str,
    userdir: str,
    strategy_path: str,
    class_name: str,
    timerange: str,
    timeframe: str,
    results_dir: str,
) -> list[str]:
    """Return the ``freqtrade backtesting`` arguments of one backtest (``--cache none``: every run
    really runs and writes its own results)."""
    return [
        "backtesting",
        "--config",
        config,
        "--userdir",
        userdir,
        "--strategy-path",
        strategy_path,
        "--strategy",
        class_name,
        "--timerange",
        timerange,
        "--timeframe",
        timeframe,
        "--cache",
        "none",
        "--export",
        "trades",
        "--backtest-directory",
        results_dir,
    ]


def read_backtest_results(results_dir: Path, class_name: str) -> dict[str, Any]:
    """Read a strategy's statistics back with freqtrade's own reader.

    Raises:
        ValueError: The results hold no statistics for ``class_name``.
    """
    # freqtrade's analysis module pulls in pandas: imported only when results are read.
    from freqtrade.data.btanalysis import load_backtest_stats

    stats = load_backtest_stats(results_dir)
    strategy = stats.get("strategy", {}).get(class_name)
    if strategy is None:
        raise ValueError(f"no results for strategy {class_name!r} in {results_dir}")
    log.info(
        "Backtest results read",
        event="ft.results.read",
        data={"path": str(results_dir), **{k: strategy.get(k) for k in _SUMMARY_KEYS}},
    )
    return dict(strategy)


@contextlib.contextmanager
def _exchange_url(
    settings: FtSettings, pairs: Sequence[str], api_url: str | None
) -> Iterator[str | None]:
    if not settings.offline or api_url is not None:
        yield api_url if settings.offline else None
        return
    with LoopbackExchange(pairs) as exchange:
        yield exchange.api_url


def container_path(path: Path, user_data_dir: Path) -> str:
    """Return where ``path`` (inside the user_data directory) is seen in the freqtrade container."""
    relative = path.resolve().relative_to(user_data_dir.resolve())
    return f"{CONTAINER_USER_DATA}/{relative.as_posix()}"


def freqtrade_runner(settings: FtSettings) -> FreqtradeRunner:
    """Return the runner the settings ask for: the local executable, or Docker with user_data
    mounted at ``/freqtrade/user_data``."""
    docker = None
    if settings.docker_image:
        volumes = {str(settings.user_data_dir.resolve()): CONTAINER_USER_DATA}
        docker = DockerOptions(image=settings.docker_image, volumes=volumes)
    return FreqtradeRunner(
        executable=settings.executable, docker=docker, timeout=settings.timeout_s
    )


def run_backtest(
    code: str,
    class_name: str,
    *,
    strategy_id: Any,
    backtest_id: Any,
    pairs: Sequence[str],
    timerange: str,
    timeframe: str = "5m",
    settings: FtSettings | None = None,
    exchange_api_url: str | None = None,
) -> BacktestRun:
    """Backtest strategy ``code`` (class ``class_name``) over ``timerange`` on ``pairs``.

    Candles must already be in ``<user_data>/data/<exchange>``. Never raises for a failed
    backtest: the returned :class:`BacktestRun` says what happened (a strategy that does not
    parse or lacks its class is a ``ValueError``, before freqtrade starts).

    Offline, the exchange stand-in is started for this backtest, unless ``exchange_api_url`` names
    one already running (a worker starts one per process and serves every pair it backtests).
    """
    settings = settings or ft_settings_from_env()
    span = at.Span(
        "backtest",
        kind="ft.backtest",
        logger=log,
        strategy_id=strategy_id,
        backtest_id=backtest_id,
        component="FTBacktesting",
        data={
            "class_name": class_name,
            "pairs": list(pairs),
            "timerange": timerange,
            "timeframe": timeframe,
            "offline": settings.offline,
        },
    )
    span.start()
    try:
        user_data = prepare_user_data(settings.user_data_dir, settings.exchange)
        directory = user_data.backtest_dir(backtest_id)
        if directory.exists():
            shutil.rmtree(directory)
            log.info(
                "Previous backtest folder removed",
                event="ft.backtest.dir_removed",
                data={"path": str(directory)},
            )
        results_dir = directory / "results"
        results_dir.mkdir(parents=True)  # it must exist, or freqtrade takes it as a file prefix
        log.info(
            "Backtest folder created",
            event="ft.backtest.dir_created",
            data={"path": str(directory)},
        )
        strategy_file = write_strategy(directory / "strategies", code, class_name)
        runner = freqtrade_runner(settings)

        def arg(path: Path) -> str:
            return str(path) if runner.docker is None else container_path(path, user_data.root)

        with _exchange_url(settings, pairs, exchange_api_url) as api_url:
            config = write_config(
                directory / "config.json",
                settings,
                pairs=pairs,
                timeframe=timeframe,
                exchange_api_url=api_url,
            )
            result = runner.run(
                backtest_args(
                    config=arg(config),
                    userdir=arg(user_data.root),
                    strategy_path=arg(strategy_file.parent),
                    class_name=class_name,
                    timerange=timerange,
                    timeframe=timeframe,
                    results_dir=arg(results_dir),
                )
            )
        stats = None
        if result.ok:
            try:
                stats = read_backtest_results(results_dir, class_name)
            except Exception:
                log.exception(
                    "Backtest results unreadable",
                    event="ft.results.unreadable",
                    data={"path": str(results_dir)},
                )
        run = BacktestRun(
            strategy_id=strategy_id,
            backtest_id=backtest_id,
            ok=result.ok and stats is not None,
            directory=directory,
            results_dir=results_dir,
            result=result,
            stats=stats,
        )
    except BaseException as exc:
        span.finish(exc)
        raise
    span.finish(
        status="ok" if run.ok else "error",
        data={
            "ok": run.ok,
            "freqtrade_status": result.status,
            "exit_code": result.exit_code,
            "errors": result.errors,
            "output_files": result.output_files,
            **run.summary,
        },
    )
    return run
