"""Strategy files: written from code (the strategy agent's output), and a small SMA-cross
template for the demo and the tests."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from app.util.logger import setup_logger

__all__ = ["SMA_CROSS_TEMPLATE", "sma_cross_strategy", "write_strategy"]

log = setup_logger("util.ft.strategy", component="FTStrategy")
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SMA_CROSS_TEMPLATE = '''\
"""A simple moving-average cross strategy."""

from pandas import DataFrame

from freqtrade.strategy import IStrategy


class {class_name}(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "5m"
    minimal_roi = {{"0": 0.02}}
    stoploss = -0.05
    startup_candle_count = 30

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["sma_fast"] = dataframe["close"].rolling({fast}).mean()
        dataframe["sma_slow"] = dataframe["close"].rolling({slow}).mean()
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        fast, slow = dataframe["sma_fast"], dataframe["sma_slow"]
        dataframe.loc[(fast > slow) & (fast.shift(1) <= slow.shift(1)), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        fast, slow = dataframe["sma_fast"], dataframe["sma_slow"]
        dataframe.loc[(fast < slow) & (fast.shift(1) >= slow.shift(1)), "exit_long"] = 1
        return dataframe
'''


def sma_cross_strategy(class_name: str = "SmaCross", fast: int = 8, slow: int = 21) -> str:
    """Return the code of an SMA-cross strategy class named ``class_name``."""
    return SMA_CROSS_TEMPLATE.format(class_name=class_name, fast=fast, slow=slow)


def write_strategy(directory: Path, code: str, class_name: str) -> Path:
    """Write strategy ``code`` to ``directory/<class_name>.py`` and return the path.

    The code must parse and define ``class_name`` (freqtrade finds a strategy by its class
    name); the code itself is not logged, only its size and path.

    Raises:
        ValueError: The class name is not an identifier, the code does not parse, or it does not
            define the class.
    """
    if not _CLASS_NAME.match(class_name):
        raise ValueError(f"not a class name: {class_name!r}")
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        log.error(
            "Strategy code does not parse",
            event="ft.strategy.invalid",
            data={"class_name": class_name, "error": str(exc)},
        )
        raise ValueError(f"strategy code does not parse: {exc}") from exc
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    if class_name not in classes:
        log.error(
            "Strategy code lacks its class",
            event="ft.strategy.invalid",
            data={"class_name": class_name, "classes": sorted(classes)},
        )
        raise ValueError(f"strategy code defines no class {class_name!r}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{class_name}.py"
    path.write_text(code, encoding="utf-8")
    log.info(
        "Strategy file written",
        event="ft.strategy.written",
        data={"class_name": class_name, "path": str(path), "bytes": len(code.encode())},
    )
    return path
