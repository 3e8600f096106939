"""The strategy drafting agent: its draft, and its full event stream snapshotted."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from syrupy.assertion import SnapshotAssertion

from agent_tracing.testing import CapturedEvents
from app.agents.strategy.graph_strategy_draft import build_strategy_draft_graph
from tests.app.agents.support import Runner, agent_events

REQUEST = "An RSI 14 mean reversion strategy on 15m"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_event_stream_snapshot(
    mode: str, run_graph: Runner, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """The normalised event stream of a draft, sync and async, is the reviewed snapshot."""
    state = run_graph(
        build_strategy_draft_graph(),
        {"messages": [HumanMessage(REQUEST)], "request": REQUEST},
        mode,
    )
    assert state["draft"]["name"] == "RsiRevert14Strategy"
    assert state["draft"]["timeframe"] == "15m"
    assert agent_events(log_events) == snapshot
