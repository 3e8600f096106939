"""Synthetic OHLCV candles written with freqtrade's own data handler (for the demo and tests).

A seeded random walk per pair: the same arguments give the same candles, so a backtest over them
gives the same trades every time.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from app.util.logger import setup_logger

__all__ = ["generate_ohlcv"]

log = setup_logger("util.ft.data", component="FTData")
_START_PRICES = {"BTC": 30000.0, "ETH": 2000.0}


def generate_ohlcv(
    datadir: Path,
    pairs: Sequence[str],
    *,
    timeframe: str = "5m",
    start: str = "2024-01-01",
    days: int = 4,
    seed: int = 7,
    data_format: str = "feather",
) -> list[Path]:
    """Write ``days`` of ``timeframe`` candles for each pair into ``datadir`` and return the files.

    Args:
        datadir: The exchange's data folder (``<user_data>/data/<exchange>``).
        pairs: ``BASE/QUOTE`` pairs.
        timeframe: A pandas-compatible candle length (``5m``, ``1h``).
        start: First candle's date (UTC).
        days: Number of days.
        seed: Random seed (combined with each pair's name).
        data_format: Freqtrade's data format (``feather`` is its default).
    """
    # freqtrade pulls in pandas: imported here so importing the app stays cheap.
    import numpy as np
    import pandas as pd
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType

    datadir.mkdir(parents=True, exist_ok=True)
    handler = get_datahandler(datadir, data_format)
    minutes = pd.Timedelta(timeframe.replace("m", "min")).total_seconds() / 60
    count = int(days * 24 * 60 / minutes)
    dates = pd.date_range(
        datetime.fromisoformat(start), periods=count, freq=pd.Timedelta(minutes=minutes), tz="UTC"
    )
    written: list[Path] = []
    for pair in pairs:
        rng = np.random.default_rng([seed, zlib.crc32(pair.encode())])
        base = _START_PRICES.get(pair.split("/")[0], 100.0)
        close = base * np.exp(np.cumsum(rng.normal(0, 0.003, count)))
        open_ = np.concatenate(([close[0]], close[:-1]))
        high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, count))
        low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, count))
        frame = pd.DataFrame(
            {
                "date": dates,
                "open": open_,
                "high": high,
                "low": low,
                "close": close,
                "volume": rng.uniform(1, 100, count),
            }
        )
        handler.ohlcv_store(pair, timeframe, frame, CandleType.SPOT)
        path = datadir / f"{pair.replace('/', '_')}-{timeframe}.{data_format}"
        written.append(path)
        log.debug(
            "Candles written for %s",
            pair,
            event="ft.data.pair",
            data={"pair": pair, "path": str(path), "candles": count},
        )
    log.info(
        "Synthetic candles written",
        event="ft.data.written",
        data={
            "datadir": str(datadir),
            "pairs": list(pairs),
            "timeframe": timeframe,
            "start": start,
            "days": days,
            "files": len(written),
        },
    )
    return written
