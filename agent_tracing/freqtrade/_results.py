"""A backtest's output files (``.last_result.json``, the result zip and its meta file) and the
summary read from them with the standard library (no pandas in the caller's process)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["find_output_files", "read_summary"]

LAST_RESULT = ".last_result.json"
#: The figures of a strategy's result kept in the summary.
SUMMARY_KEYS: tuple[str, ...] = (
    "total_trades",
    "wins",
    "draws",
    "losses",
    "winrate",
    "profit_total",
    "profit_total_abs",
    "profit_mean",
    "starting_balance",
    "final_balance",
    "max_drawdown_account",
    "max_drawdown_abs",
    "stake_currency",
    "timeframe",
    "timerange",
    "backtest_start",
    "backtest_end",
)
# File systems with coarse timestamps: a file written in the same second counts as new.
_MTIME_SLACK_S = 2.0


def find_output_files(directory: Path, since: float) -> dict[str, str]:
    """Return the result files this run wrote in ``directory``.

    Keys: ``last_result`` (the ``.last_result.json`` pointer), ``result`` (the zip it names) and
    ``meta`` (its ``.meta.json``), each only when modified at or after ``since`` (epoch seconds),
    so results of an earlier run are never reported as this one's.
    """
    pointer = directory / LAST_RESULT
    try:
        if pointer.stat().st_mtime < since - _MTIME_SLACK_S:
            return {}
        latest = json.loads(pointer.read_text(encoding="utf-8"))["latest_backtest"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    files = {"last_result": str(pointer)}
    result = directory / str(latest)
    if result.exists():
        files["result"] = str(result)
    meta = result.with_name(result.name.removesuffix(result.suffix) + ".meta.json")
    if meta.exists():
        files["meta"] = str(meta)
    return files


def read_summary(result_zip: Path) -> dict[str, dict[str, Any]]:
    """Return ``{strategy: {total_trades, profit_total, ...}}`` from a backtest result zip.

    Raises:
        OSError, ValueError, KeyError, zipfile.BadZipFile: the file is missing or not a result.
    """
    with zipfile.ZipFile(result_zip) as archive:
        name = result_zip.name.removesuffix(".zip") + ".json"
        stats = json.loads(archive.read(name))
    return {
        strategy: {key: values.get(key) for key in SUMMARY_KEYS if key in values}
        for strategy, values in stats["strategy"].items()
    }
