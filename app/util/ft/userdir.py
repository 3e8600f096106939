"""The freqtrade user_data directory and the config file written from the app's settings."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.util.ft.exchange import ccxt_overrides
from app.util.ft.settings import FtSettings
from app.util.logger import setup_logger

__all__ = ["UserData", "build_config", "prepare_user_data", "write_config"]

log = setup_logger("util.ft.userdir", component="FTUserData")
_SUBDIRS = ("data", "strategies", "backtest_results", "logs", "backtests")


@dataclass(frozen=True)
class UserData:
    """The folders of one user_data directory.

    Attributes:
        root: The user_data directory (``--userdir``).
        datadir: Candles of the exchange (``<root>/data/<exchange>``).
        backtests: One folder per backtest (config, strategy, results).
    """

    root: Path
    datadir: Path
    backtests: Path

    def backtest_dir(self, backtest_id: object) -> Path:
        """The folder of one backtest."""
        return self.backtests / str(backtest_id)


def prepare_user_data(root: Path, exchange: str = "binance") -> UserData:
    """Create the user_data folders freqtrade expects (idempotent) and return their paths."""
    created = []
    for sub in (*_SUBDIRS, f"data/{exchange}"):
        path = root / sub
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            created.append(sub)
    user_data = UserData(root=root, datadir=root / "data" / exchange, backtests=root / "backtests")
    log.info(
        "user_data directory ready",
        event="ft.userdir.prepared",
        data={"path": str(root), "created": created},
    )
    return user_data


def build_config(
    settings: FtSettings,
    *,
    pairs: Sequence[str],
    timeframe: str,
    exchange_api_url: str | None = None,
) -> dict[str, Any]:
    """Return the freqtrade config of a backtest (dry run, static pair list, spot).

    ``exchange_api_url`` points ccxt's public API at a stand-in of the exchange (offline runs).
    """
    exchange: dict[str, Any] = {
        "name": settings.exchange,
        "key": settings.exchange_key,
        "secret": settings.exchange_secret,
        "pair_whitelist": list(pairs),
    }
    if exchange_api_url:
        exchange["ccxt_config"] = ccxt_overrides(exchange_api_url)
    return {
        "max_open_trades": settings.max_open_trades,
        "stake_currency": settings.stake_currency,
        "stake_amount": settings.stake_amount,
        "dry_run": True,
        "dry_run_wallet": settings.dry_run_wallet,
        "timeframe": timeframe,
        "trading_mode": "spot",
        "margin_mode": "",
        "exchange": exchange,
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same"},
        "exit_pricing": {"price_side": "same"},
        "dataformat_ohlcv": "feather",
        "internals": {},
    }


def write_config(
    path: Path,
    settings: FtSettings,
    *,
    pairs: Sequence[str],
    timeframe: str,
    exchange_api_url: str | None = None,
) -> Path:
    """Write the config (owner-only permissions: it holds the exchange credentials) and log what
    it contains without the secrets."""
    config = build_config(
        settings, pairs=pairs, timeframe=timeframe, exchange_api_url=exchange_api_url
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(config, out, indent=2)
    secrets = [
        name
        for name, value in (
            ("exchange.key", settings.exchange_key),
            ("exchange.secret", settings.exchange_secret),
        )
        if value
    ]
    log.info(
        "freqtrade config written",
        event="ft.config.written",
        data={
            "path": str(path),
            "exchange": settings.exchange,
            "pairs": list(pairs),
            "timeframe": timeframe,
            "offline": exchange_api_url is not None,
            "exchange_api_url": exchange_api_url,
            "credential_fields": secrets,
        },
    )
    return path
