"""Tools of the strategy agents: look up an indicator, validate Freqtrade strategy code."""

from __future__ import annotations

import ast
import json
from typing import TypedDict

from langchain_core.tools import tool

__all__ = [
    "INDICATORS",
    "REQUIRED_METHODS",
    "CodeCheck",
    "check_strategy_code",
    "lookup_indicator",
    "validate_strategy_code",
]

#: What the agents know about each indicator: how to compute it with pandas, how to use it.
INDICATORS: dict[str, dict[str, str]] = {
    "sma": {
        "name": "Simple moving average",
        "pandas": 'dataframe["close"].rolling(window=n).mean()',
        "usage": "Crossover of a fast and a slow SMA signals a trend change.",
    },
    "ema": {
        "name": "Exponential moving average",
        "pandas": 'dataframe["close"].ewm(span=n, adjust=False).mean()',
        "usage": "Reacts faster than the SMA; used in crossovers and as a trend filter.",
    },
    "rsi": {
        "name": "Relative strength index (Cutler, rolling means of gains and losses)",
        "pandas": "100 - 100 / (1 + gain.rolling(n).mean() / loss.rolling(n).mean())",
        "usage": "Below 30 is oversold (entry), above 70 overbought (exit).",
    },
    "bollinger": {
        "name": "Bollinger bands",
        "pandas": "mid = close.rolling(n).mean(); mid +/- 2 * close.rolling(n).std()",
        "usage": "A close below the lower band is a mean-reversion entry.",
    },
}

REQUIRED_METHODS = ("populate_indicators", "populate_entry_trend", "populate_exit_trend")


class CodeCheck(TypedDict):
    """The result of :func:`check_strategy_code`."""

    valid: bool
    class_name: str | None
    errors: list[str]


@tool
def lookup_indicator(name: str) -> str:
    """Describe a technical indicator: how to compute it with pandas and how it is used."""
    key = name.strip().lower()
    if key not in INDICATORS:
        raise ValueError(f"unknown indicator {name!r}; known: {', '.join(sorted(INDICATORS))}")
    return json.dumps({"indicator": key, **INDICATORS[key]})


def check_strategy_code(code: str) -> CodeCheck:
    """Parse ``code`` and check it defines an ``IStrategy`` subclass with the required methods.

    Returns:
        ``{"valid": bool, "class_name": str | None, "errors": [str, ...]}``.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        return {"valid": False, "class_name": None, "errors": [f"syntax error: {error}"]}
    classes = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id == "IStrategy" for base in node.bases)
    ]
    if not classes:
        return {"valid": False, "class_name": None, "errors": ["no IStrategy subclass"]}
    strategy = classes[0]
    methods = {node.name for node in strategy.body if isinstance(node, ast.FunctionDef)}
    errors = [f"missing method {name}" for name in REQUIRED_METHODS if name not in methods]
    return {"valid": not errors, "class_name": strategy.name, "errors": errors}


@tool
def validate_strategy_code(code: str) -> str:
    """Validate Freqtrade strategy code by parsing it: an IStrategy subclass with its methods."""
    return json.dumps(check_strategy_code(code))
