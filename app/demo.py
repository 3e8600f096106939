"""`make demo`: a short scripted flow through the core, coloured lines on the console and every
JSON line in ``logs/demo.jsonl``. (The full GenTrade flow grows from here.)"""

from __future__ import annotations

import time
from pathlib import Path

import agent_tracing as at
from app.util.logger import setup_logger

LOG_FILE = Path("logs/demo.jsonl")


def main() -> None:
    """Play a user creating a strategy and backtesting it, logged through the core."""
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    LOG_FILE.unlink(missing_ok=True)
    at.configure_logging(json_output=str(LOG_FILE), levels={"app": "DEBUG"}, console_level="DEBUG")
    service = setup_logger("db.services.backtests", component="BacktestsService")
    ft = setup_logger("util.ft", component="FTBacktesting")
    correlation_id = at.new_correlation_id()
    with at.bind(correlation_id=correlation_id, user_id="user_123"):
        with at.span("POST /backtests", kind="http.request", logger="app.demo"):
            with at.span("create backtest", kind="service", strategy_id=456, backtest_id=789):
                service.info("Backtest started", data={"timerange": "20240101-20240128"})
                service.debug(
                    "Exchange config",
                    data={"exchange": {"name": "binance", "api_key": "k-123", "secret": "shh"}},
                )
                ft.warning("Data download retry", data={"attempt": 2})
                time.sleep(0.01)
                try:
                    raise RuntimeError("connect postgresql://gentrade:hunter2@db/app failed")
                except RuntimeError:
                    ft.exception("Backtest failed")
    at.flush_logging()
    lines = LOG_FILE.read_text().splitlines()
    print(f"\ncorrelation id: {correlation_id}")
    print(f"{len(lines)} JSON lines written to {LOG_FILE}")


if __name__ == "__main__":
    main()
