"""``python -m app.util.ft``: one offline backtest end to end (exchange stand-in, synthetic
candles, the SMA-cross template), logged as JSON lines to stdout and in colour to stderr."""

from __future__ import annotations

import tempfile
from pathlib import Path

import agent_tracing as at
from app.util.ft.backtesting import run_backtest
from app.util.ft.data import generate_ohlcv
from app.util.ft.settings import FtSettings
from app.util.ft.strategy import sma_cross_strategy
from app.util.ft.userdir import prepare_user_data

PAIRS = ["BTC/USDT", "ETH/USDT"]


def main() -> int:
    """Run the backtest in a temporary user_data directory; exit 0 when it succeeded."""
    at.configure_logging(json=False, levels={"agent_tracing.freqtrade.output": "WARNING"})
    with tempfile.TemporaryDirectory(prefix="gentrade-ft-") as tmp:
        settings = FtSettings(user_data_dir=Path(tmp) / "user_data", timeout_s=300)
        generate_ohlcv(prepare_user_data(settings.user_data_dir).datadir, PAIRS, days=4)
        with at.bind(correlation_id=at.new_correlation_id(), user_id="user_123"):
            run = run_backtest(sma_cross_strategy("SmaCross"), "SmaCross", strategy_id=456,
                               backtest_id=789, pairs=PAIRS, timerange="20240101-20240105",
                               settings=settings)  # fmt: skip
    print(run.summary if run.ok else run.result.errors)
    return 0 if run.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
