"""The router agent: routes each kind of request, and its full event stream is snapshotted."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from syrupy.assertion import SnapshotAssertion

from agent_tracing.langchain import LoggingCallback
from agent_tracing.testing import CapturedEvents
from app.agents.main.graph_main import build_main_graph, route_script, run_main_agent
from tests.app.agents.support import Runner, agent_events

REQUESTS = {
    "draft": "Draft a strategy idea: an EMA crossover 12/26 on 1h",
    "code": "Write the Freqtrade code for an SMA crossover 10/30 on 1h",
    "answer": "What does a backtest tell me?",
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("route", sorted(REQUESTS))
def test_event_stream_snapshot(
    route: str,
    mode: str,
    run_graph: Runner,
    log_events: CapturedEvents,
    snapshot: SnapshotAssertion,
) -> None:
    """The normalised event stream of each route, sync and async, is the reviewed snapshot."""
    state = run_graph(build_main_graph(), {"messages": [HumanMessage(REQUESTS[route])]}, mode)
    assert state["route"] == route
    assert agent_events(log_events) == snapshot


def test_routes_reach_their_nodes(log_events: CapturedEvents) -> None:
    """Each request ends in the node its route names, with the nested agent's result."""
    code = run_main_agent(REQUESTS["code"], callbacks=[LoggingCallback()])
    assert code["class_name"] == "SmaCross10x30Strategy"
    assert "class SmaCross10x30Strategy(IStrategy)" in code["code"]
    draft = run_main_agent(REQUESTS["draft"])
    assert draft["draft"]["indicator"] == "ema"
    answer = run_main_agent(REQUESTS["answer"])
    assert "backtest" in answer["messages"][-1].content
    decisions = log_events.by_event("agent.route.decision")
    assert decisions[0]["data"]["labels"] == ["code"]
    assert decisions[0]["data"]["from_node"] == "router"


def test_router_script_classifies_requests() -> None:
    """Code words route to code, strategy words to draft, anything else to answer."""
    labels = {name: route_script([HumanMessage(text)]).content for name, text in REQUESTS.items()}
    assert labels == {"draft": "draft", "code": "code", "answer": "answer"}
