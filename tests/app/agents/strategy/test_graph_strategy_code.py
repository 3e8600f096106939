"""The strategy code agent: valid Freqtrade code for a prompt, retries, and its event stream."""

from __future__ import annotations

import ast
import asyncio
import types
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from syrupy.assertion import SnapshotAssertion

from agent_tracing.langchain import LoggingCallback
from agent_tracing.testing import CapturedEvents
from app.agents.models import ScriptedChatModel
from app.agents.strategy.graph_strategy_code import (
    StrategyCodeError,
    agenerate_strategy_code,
    build_strategy_code_graph,
    generate_strategy_code,
)
from tests.app.agents.support import Runner, agent_events

REQUEST = "Write an SMA crossover 10/30 strategy on 1h"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_event_stream_snapshot(
    mode: str, run_graph: Runner, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """The normalised event stream of writing a strategy, sync and async, is the snapshot."""
    state = run_graph(
        build_strategy_code_graph(),
        {"messages": [HumanMessage(REQUEST)], "request": REQUEST},
        mode,
    )
    assert state["valid"] is True
    assert agent_events(log_events) == snapshot


def test_generated_code_is_a_freqtrade_strategy() -> None:
    """The code parses, defines the named IStrategy subclass with the three populate methods."""
    result = generate_strategy_code(REQUEST, callbacks=[LoggingCallback()])
    tree = ast.parse(result.code)
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    methods = {node.name for node in cls.body if isinstance(node, ast.FunctionDef)}
    assert result.class_name == cls.name == "SmaCross10x30Strategy"
    assert {"populate_indicators", "populate_entry_trend", "populate_exit_trend"} <= methods
    assert "rolling(window=10).mean()" in result.code
    assert 'timeframe = "1h"' in result.code
    assert asyncio.run(agenerate_strategy_code(REQUEST)) == result


def test_invalid_code_is_retried_then_reported(log_events: CapturedEvents) -> None:
    """A model that never writes valid code is asked again once, then the call raises."""

    def broken(messages: Sequence[BaseMessage]) -> AIMessage:
        return AIMessage(content="```python\nclass Nope:\n    pass\n```")

    graph = build_strategy_code_graph(ScriptedChatModel(script=broken))
    with pytest.raises(StrategyCodeError, match="no IStrategy subclass"):
        generate_strategy_code(REQUEST, graph=graph, callbacks=[LoggingCallback()])
    outcomes = ("agent.code.retry", "agent.code.invalid")
    assert [line["event"] for line in log_events.raw if line["event"] in outcomes] == list(outcomes)
    commands = [
        line["data"]["targets"]
        for line in log_events.by_event("agent.route.decision")
        if line["data"]["via"] == "command"
    ]
    assert commands == [["coder"], ["__end__"]]


@pytest.mark.parametrize("prompt", ["an SMA crossover 10/30 on 1h", "RSI 14 on 5m", "EMA 12 26"])
def test_generated_strategy_signals_on_candles(prompt: str) -> None:
    """The generated class loads with freqtrade's IStrategy and marks entries and exits."""
    result = generate_strategy_code(prompt)
    module = types.ModuleType(result.class_name)
    exec(compile(result.code, f"{result.class_name}.py", "exec"), module.__dict__)
    strategy_class = getattr(module, result.class_name)
    strategy = strategy_class({"stake_currency": "USDT", "dry_run": True})
    close = 100 + np.cumsum(np.random.default_rng(7).normal(0, 1, 400))
    candles = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=400, freq="h", tz="UTC"),
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 10.0,
        }
    )
    metadata = {"pair": "BTC/USDT"}
    frame = strategy.populate_indicators(candles, metadata)
    frame = strategy.populate_exit_trend(strategy.populate_entry_trend(frame, metadata), metadata)
    assert frame["enter_long"].fillna(0).sum() > 0
    assert frame["exit_long"].fillna(0).sum() > 0
