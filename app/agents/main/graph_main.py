"""The GenTrade router agent: drafts a strategy, writes its code, or answers a question.

Graph: ``router`` (the chat model names the route) -> conditional edge ``choose_route`` with the
labels ``draft`` / ``code`` / ``answer`` -> ``draft_strategy`` (runs the drafting agent),
``write_code`` (runs the code agent) or ``answer`` (the chat model answers) -> END. The nested
agents run inside the nodes with the same config, so their runs are children of the node's run.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Hashable, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph

from app.agents.models import get_chat_model
from app.agents.strategy.graph_strategy_code import get_strategy_code_graph
from app.agents.strategy.graph_strategy_draft import get_strategy_draft_graph
from app.util.logger import setup_logger

__all__ = [
    "ROUTES",
    "MainState",
    "answer_script",
    "build_main_graph",
    "get_main_graph",
    "route_script",
    "run_main_agent",
]

log = setup_logger(__name__, component="MainAgent")

#: Route label chosen by the router -> the node that handles it.
ROUTES: dict[Hashable, str] = {"draft": "draft_strategy", "code": "write_code", "answer": "answer"}
ROUTER_PROMPT = (
    "Classify the user's request. Answer with one word: 'draft' to design a trading strategy, "
    "'code' to write a strategy's Freqtrade code, 'answer' for anything else."
)
ANSWER_PROMPT = "You are GenTrade's assistant. Answer briefly about trading and backtesting."
_CODE_WORDS = ("code", "implement", "write", "freqtrade")
_DRAFT_WORDS = ("draft", "design", "idea", "strategy", "plan")


class MainState(TypedDict, total=False):
    """The router agent's state."""

    messages: Annotated[list[AnyMessage], add_messages]
    route: str | None
    draft: dict[str, Any] | None
    code: str | None
    class_name: str | None


def _last_request(messages: Sequence[BaseMessage]) -> str:
    return next((str(m.content) for m in reversed(messages) if m.type == "human"), "")


def route_script(messages: Sequence[BaseMessage]) -> AIMessage:
    """The scripted router: code words -> ``code``, strategy words -> ``draft``, else ``answer``."""
    text = _last_request(messages).lower()
    if any(word in text for word in _CODE_WORDS):
        return AIMessage(content="code")
    if any(word in text for word in _DRAFT_WORDS):
        return AIMessage(content="draft")
    return AIMessage(content="answer")


def answer_script(messages: Sequence[BaseMessage]) -> AIMessage:
    """The scripted assistant's short answers."""
    text = _last_request(messages).lower()
    if "backtest" in text:
        return AIMessage(
            content="A backtest replays your strategy on historical candles and reports its "
            "trades, profit and drawdown."
        )
    return AIMessage(content="I can draft trading strategies, write their code and backtest them.")


def build_main_graph(
    router_model: BaseChatModel | None = None, answer_model: BaseChatModel | None = None
) -> CompiledStateGraph[Any]:
    """Build the router agent (the configured models, else the scripted ones)."""
    router_llm = router_model or get_chat_model(route_script)
    answer_llm = answer_model or get_chat_model(answer_script)

    def router(state: MainState) -> dict[str, Any]:
        request = _last_request(state["messages"])
        decision = router_llm.invoke([SystemMessage(ROUTER_PROMPT), HumanMessage(request)])
        label = str(decision.content).strip().lower()
        route = label if label in ROUTES else "answer"
        log.info(
            "Request routed", event="agent.main.routed", data={"route": route, "model_label": label}
        )
        return {"route": route}

    def choose_route(state: MainState) -> str:
        return state.get("route") or "answer"

    def draft_strategy(state: MainState) -> dict[str, Any]:
        request = _last_request(state["messages"])
        result = get_strategy_draft_graph().invoke(
            {"messages": [HumanMessage(request)], "request": request}
        )
        draft = result.get("draft") or {}
        log.info("Draft ready", event="agent.main.draft", data={"name": draft.get("name")})
        summary = AIMessage(content=f"Draft {draft.get('name')}: {json.dumps(draft)}")
        return {"draft": draft, "messages": [summary]}

    def write_code(state: MainState) -> dict[str, Any]:
        request = _last_request(state["messages"])
        result = get_strategy_code_graph().invoke(
            {"messages": [HumanMessage(request)], "request": request}
        )
        log.info(
            "Code ready",
            event="agent.main.code",
            data={"class_name": result.get("class_name"), "valid": result.get("valid")},
        )
        reply = AIMessage(content=f"Strategy {result.get('class_name')} is written and valid.")
        return {
            "code": result.get("code"),
            "class_name": result.get("class_name"),
            "messages": [reply],
        }

    def answer(state: MainState) -> dict[str, Any]:
        reply = answer_llm.invoke([SystemMessage(ANSWER_PROMPT), *state["messages"]])
        return {"messages": [reply]}

    graph = StateGraph(MainState)
    graph.add_node("router", router)
    graph.add_node("draft_strategy", draft_strategy)
    graph.add_node("write_code", write_code)
    graph.add_node("answer", answer)
    graph.add_edge(START, "router")
    graph.add_conditional_edges("router", choose_route, ROUTES)
    for node in ROUTES.values():
        graph.add_edge(node, END)
    return graph.compile(name="main_agent")


@functools.cache
def get_main_graph() -> CompiledStateGraph[Any]:
    """The router agent with the configured models, built once."""
    return build_main_graph()


def run_main_agent(
    message: str, *, callbacks: Sequence[BaseCallbackHandler] | None = None
) -> dict[str, Any]:
    """Run the router agent on one user message and return its final state."""
    config: RunnableConfig = {"callbacks": list(callbacks)} if callbacks else {}
    state: dict[str, Any] = get_main_graph().invoke(
        {"messages": [HumanMessage(message)]}, config=config
    )
    return state
