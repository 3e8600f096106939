"""Freqtrade settings of the app: exchange credentials, stake, paths and how freqtrade runs.

A small frozen object with one loader (``ft_settings_from_env``), so the app's settings module can
build it from its own values later. Secret fields are left out of ``repr``: printing the settings
never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FtSettings", "ft_settings_from_env"]


@dataclass(frozen=True)
class FtSettings:
    """How the app runs freqtrade.

    Attributes:
        exchange: Exchange name in freqtrade's config.
        exchange_key: API key (secret; written to the config file only).
        exchange_secret: API secret (secret; written to the config file only).
        stake_currency: Quote currency of every pair.
        stake_amount: Stake per trade (``"unlimited"`` or an amount).
        dry_run_wallet: Starting balance of a backtest.
        max_open_trades: Trades open at once.
        user_data_dir: The shared freqtrade user_data directory (data, per-backtest folders).
        offline: Answer freqtrade's market-list request from a loopback stand-in of the exchange
            (127.0.0.1) instead of the exchange; the demo and the tests run this way.
        executable: The freqtrade command (default: the one installed with this interpreter).
        docker_image: Run freqtrade in this Docker image instead of the local executable.
        timeout_s: Seconds before a backtest is killed.
    """

    exchange: str = "binance"
    exchange_key: str = field(default="", repr=False)
    exchange_secret: str = field(default="", repr=False)
    stake_currency: str = "USDT"
    stake_amount: float | str = 100
    dry_run_wallet: float = 1000
    max_open_trades: int = 2
    user_data_dir: Path = Path("user_data")
    offline: bool = True
    executable: str | None = None
    docker_image: str | None = None
    timeout_s: float = 600.0


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def ft_settings_from_env(environ: Mapping[str, str] | None = None) -> FtSettings:
    """Build :class:`FtSettings` from ``FT_*`` variables (unset ones keep their defaults).

    ``FT_EXCHANGE``, ``FT_EXCHANGE_KEY``, ``FT_EXCHANGE_SECRET``, ``FT_STAKE_CURRENCY``,
    ``FT_STAKE_AMOUNT``, ``FT_DRY_RUN_WALLET``, ``FT_MAX_OPEN_TRADES``, ``FT_USER_DATA_DIR``,
    ``FT_OFFLINE``, ``FT_EXECUTABLE``, ``FT_DOCKER_IMAGE``, ``FT_TIMEOUT_S``.
    """
    env = os.environ if environ is None else environ
    base = FtSettings()
    stake = env.get("FT_STAKE_AMOUNT")
    return FtSettings(
        exchange=env.get("FT_EXCHANGE", base.exchange),
        exchange_key=env.get("FT_EXCHANGE_KEY", ""),
        exchange_secret=env.get("FT_EXCHANGE_SECRET", ""),
        stake_currency=env.get("FT_STAKE_CURRENCY", base.stake_currency),
        stake_amount=(
            base.stake_amount
            if stake is None
            else (stake if stake == "unlimited" else float(stake))
        ),
        dry_run_wallet=float(env.get("FT_DRY_RUN_WALLET", base.dry_run_wallet)),
        max_open_trades=int(env.get("FT_MAX_OPEN_TRADES", base.max_open_trades)),
        user_data_dir=Path(env.get("FT_USER_DATA_DIR", str(base.user_data_dir))),
        offline=_flag(env["FT_OFFLINE"]) if "FT_OFFLINE" in env else base.offline,
        executable=env.get("FT_EXECUTABLE") or None,
        docker_image=env.get("FT_DOCKER_IMAGE") or None,
        timeout_s=float(env.get("FT_TIMEOUT_S", base.timeout_s)),
    )
