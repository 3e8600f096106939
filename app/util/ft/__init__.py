"""GenTrade's freqtrade integration: user_data, config and strategy files, offline exchange
stand-in and synthetic candles, and the backtest flow (:func:`run_backtest`)."""

from app.util.ft.backtesting import (
    BacktestRun,
    backtest_args,
    container_path,
    freqtrade_runner,
    read_backtest_results,
    run_backtest,
)
from app.util.ft.data import generate_ohlcv
from app.util.ft.exchange import LoopbackExchange, ccxt_overrides, exchange_info
from app.util.ft.settings import FtSettings, ft_settings_from_env
from app.util.ft.strategy import SMA_CROSS_TEMPLATE, sma_cross_strategy, write_strategy
from app.util.ft.userdir import UserData, build_config, prepare_user_data, write_config

__all__ = [
    "SMA_CROSS_TEMPLATE",
    "BacktestRun",
    "FtSettings",
    "LoopbackExchange",
    "UserData",
    "backtest_args",
    "build_config",
    "ccxt_overrides",
    "container_path",
    "exchange_info",
    "freqtrade_runner",
    "ft_settings_from_env",
    "generate_ohlcv",
    "prepare_user_data",
    "read_backtest_results",
    "run_backtest",
    "sma_cross_strategy",
    "write_config",
    "write_strategy",
]
