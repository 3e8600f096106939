"""The strategy drafting agent: turns a request into a strategy draft (indicators, entry, exit).

Graph: ``analyst`` (chat model with the ``lookup_indicator`` tool) -> ``tools`` while the model
asks for tools -> ``finalize`` (reads the model's JSON answer into ``draft``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode

from app.agents.models import get_chat_model
from app.agents.strategy.codegen import named_indicators, parse_request
from app.agents.tools import INDICATORS, lookup_indicator
from app.util.logger import setup_logger

__all__ = ["DraftState", "build_strategy_draft_graph", "draft_script", "get_strategy_draft_graph"]

log = setup_logger(__name__, component="StrategyDraftAgent")

SYSTEM_PROMPT = (
    "You are a trading strategy analyst. Look up the indicators you need, then answer with a JSON "
    "draft: name, indicator, fast, slow, timeframe, stoploss, minimal_roi, entry, exit."
)


class DraftState(TypedDict, total=False):
    """The drafting agent's state."""

    messages: Annotated[list[AnyMessage], add_messages]
    request: str
    draft: dict[str, Any] | None


def _request(messages: Sequence[BaseMessage]) -> str:
    return next((str(m.content) for m in messages if m.type == "human"), "")


def draft_script(messages: Sequence[BaseMessage]) -> AIMessage:
    """The scripted analyst: look the indicator up, then answer with the draft as JSON.

    Like a real model, it looks up an indicator the request names even when the tool does not
    know it (``macd``): the tool then fails.
    """
    request = _request(messages)
    spec = parse_request(request)
    if not any(isinstance(m, ToolMessage) for m in messages):
        unknown = [name for name in named_indicators(request) if name not in INDICATORS]
        indicator = unknown[0] if unknown else spec.indicator
        call = {
            "name": "lookup_indicator",
            "args": {"name": indicator},
            "id": f"call_lookup_{indicator}",
        }
        return AIMessage(content="", tool_calls=[call])
    crossing = "crosses above" if spec.indicator != "rsi" else "drops below 30"
    draft = {
        **spec.as_dict(),
        "entry": f"fast {spec.indicator} {crossing} the slow one"
        if spec.indicator != "rsi"
        else "RSI drops below 30",
        "exit": "the opposite crossing" if spec.indicator != "rsi" else "RSI rises above 70",
    }
    return AIMessage(content=json.dumps(draft))


def build_strategy_draft_graph(model: BaseChatModel | None = None) -> CompiledStateGraph[Any]:
    """Build the drafting agent (the configured model, else the scripted one)."""
    llm = (model or get_chat_model(draft_script)).bind_tools([lookup_indicator])

    def analyst(state: DraftState) -> dict[str, Any]:
        log.info(
            "Analysing strategy request",
            event="agent.draft.analyse",
            data={"turn": len(state.get("messages", []))},
        )
        answer = llm.invoke([SystemMessage(SYSTEM_PROMPT), *state["messages"]])
        return {"messages": [answer]}

    def needs_tools(state: DraftState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else "finalize"

    def finalize(state: DraftState) -> dict[str, Any]:
        content = str(state["messages"][-1].content)
        try:
            draft = json.loads(content)
        except ValueError:
            log.warning("Draft is not JSON; kept as text", event="agent.draft.unparsed")
            draft = {"text": content}
        log.info(
            "Strategy drafted",
            event="agent.draft.done",
            data={"name": draft.get("name"), "indicator": draft.get("indicator")},
        )
        return {"draft": draft}

    graph = StateGraph(DraftState)
    graph.add_node("analyst", analyst)
    graph.add_node("tools", ToolNode([lookup_indicator]))
    graph.add_node("finalize", finalize)
    graph.add_edge(START, "analyst")
    graph.add_conditional_edges("analyst", needs_tools, ["tools", "finalize"])
    graph.add_edge("tools", "analyst")
    graph.add_edge("finalize", END)
    return graph.compile(name="strategy_draft_agent")


@functools.cache
def get_strategy_draft_graph() -> CompiledStateGraph[Any]:
    """The drafting agent with the configured model, built once."""
    return build_strategy_draft_graph()
