"""The scripted agents' reading of a request: the indicators it names."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from app.agents.strategy.codegen import named_indicators
from app.agents.strategy.graph_strategy_draft import build_strategy_draft_graph, draft_script


def test_named_indicators_in_order() -> None:
    """Indicator names are found case-insensitively, in the order the request gives them."""
    assert named_indicators("MACD with an RSI filter, then EMA") == ["macd", "rsi", "ema"]
    assert named_indicators("buy low, sell high") == []


def test_the_draft_agent_looks_up_an_indicator_its_tool_does_not_know() -> None:
    """A request naming MACD makes the analyst call ``lookup_indicator("macd")``."""
    answer = draft_script([HumanMessage("A MACD crossover on 5m")])
    assert [(c["name"], c["args"]) for c in answer.tool_calls] == [
        ("lookup_indicator", {"name": "macd"})
    ]


def test_the_unknown_indicator_fails_the_draft_graph() -> None:
    """The tool's error is not swallowed: the graph run fails with it."""
    graph = build_strategy_draft_graph()
    with pytest.raises(ValueError, match="unknown indicator 'macd'"):
        graph.invoke({"messages": [HumanMessage("A MACD crossover")], "request": "MACD"})
