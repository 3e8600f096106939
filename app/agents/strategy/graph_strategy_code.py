"""The strategy code agent: writes a Freqtrade strategy (an ``IStrategy`` subclass) for a request.

Graph: ``coder`` (chat model with ``lookup_indicator`` and ``validate_strategy_code``) -> ``tools``
while the model asks for tools -> ``finish``, which reads the code from the model's answer,
validates it by parsing it, and ends (``Command(goto=END)``) or sends it back to ``coder``.

:func:`generate_strategy_code` is the entry point for the app: a prompt in, the strategy code and
its class name out (for the backtesting runner to write to a file and run).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command

from app.agents.models import get_chat_model
from app.agents.strategy.codegen import parse_request, render_strategy
from app.agents.tools import check_strategy_code, lookup_indicator, validate_strategy_code
from app.util.logger import setup_logger

__all__ = [
    "CodeState",
    "GeneratedStrategy",
    "StrategyCodeError",
    "agenerate_strategy_code",
    "build_strategy_code_graph",
    "code_script",
    "generate_strategy_code",
    "get_strategy_code_graph",
]

log = setup_logger(__name__, component="StrategyCodeAgent")

SYSTEM_PROMPT = (
    "You write Freqtrade strategies: one IStrategy subclass with populate_indicators, "
    "populate_entry_trend and populate_exit_trend, indicators computed with pandas. Look up the "
    "indicators, validate your code with validate_strategy_code, then answer with the code in a "
    "```python block."
)
MAX_ATTEMPTS = 2
_FENCED = re.compile(r"```(?:python)?\n(.*?)```", re.DOTALL)


class CodeState(TypedDict, total=False):
    """The code agent's state."""

    messages: Annotated[list[AnyMessage], add_messages]
    request: str
    code: str | None
    class_name: str | None
    valid: bool
    errors: list[str]
    attempts: int


@dataclass(frozen=True)
class GeneratedStrategy:
    """A strategy written by the code agent.

    Attributes:
        class_name: The ``IStrategy`` subclass to run (``--strategy``).
        code: The module source, ready to be written as ``<class_name>.py``.
    """

    class_name: str
    code: str


class StrategyCodeError(RuntimeError):
    """The agent did not produce valid strategy code."""


def _request(messages: Sequence[BaseMessage]) -> str:
    return next((str(m.content) for m in messages if m.type == "human"), "")


def code_script(messages: Sequence[BaseMessage]) -> AIMessage:
    """The scripted coder: look the indicator up, validate the code, answer with it."""
    spec = parse_request(_request(messages))
    tool_results = [m for m in messages if isinstance(m, ToolMessage)]
    if not tool_results:
        call = {
            "name": "lookup_indicator",
            "args": {"name": spec.indicator},
            "id": f"call_lookup_{spec.indicator}",
        }
        return AIMessage(content="", tool_calls=[call])
    code = render_strategy(spec)
    last = tool_results[-1]
    if last.name != "validate_strategy_code":
        call = {
            "name": "validate_strategy_code",
            "args": {"code": code},
            "id": f"call_validate_{len(tool_results)}",
        }
        return AIMessage(content="", tool_calls=[call])
    return AIMessage(content=f"Here is {spec.name}:\n```python\n{code}```")


def build_strategy_code_graph(model: BaseChatModel | None = None) -> CompiledStateGraph[Any]:
    """Build the code agent (the configured model, else the scripted one)."""
    tools = [lookup_indicator, validate_strategy_code]
    llm = (model or get_chat_model(code_script)).bind_tools(tools)

    def coder(state: CodeState) -> dict[str, Any]:
        log.info(
            "Writing strategy code",
            event="agent.code.write",
            data={"turn": len(state.get("messages", [])), "attempt": state.get("attempts", 0) + 1},
        )
        answer = llm.invoke([SystemMessage(SYSTEM_PROMPT), *state["messages"]])
        return {"messages": [answer]}

    def needs_tools(state: CodeState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else "finish"

    def finish(state: CodeState) -> Command[str]:
        attempts = state.get("attempts", 0) + 1
        match = _FENCED.search(str(state["messages"][-1].content))
        code = match.group(1) if match else ""
        result = check_strategy_code(code)
        errors = result["errors"]
        update = {
            "code": code or None,
            "class_name": result["class_name"],
            "valid": bool(result["valid"]),
            "errors": errors,
            "attempts": attempts,
        }
        if result["valid"]:
            log.info(
                "Strategy code ready",
                event="agent.code.valid",
                data={"class_name": result["class_name"], "lines": code.count("\n")},
            )
            return Command(update=update, goto=END)
        if attempts >= MAX_ATTEMPTS:
            log.warning(
                "Strategy code still invalid; giving up",
                event="agent.code.invalid",
                data={"errors": errors, "attempts": attempts},
            )
            return Command(update=update, goto=END)
        log.warning(
            "Strategy code invalid; asking again",
            event="agent.code.retry",
            data={"errors": errors, "attempts": attempts},
        )
        retry = HumanMessage(f"The code is not valid ({'; '.join(errors)}). Fix it.")
        return Command(update={**update, "messages": [retry]}, goto="coder")

    graph = StateGraph(CodeState)
    graph.add_node("coder", coder)
    graph.add_node("tools", ToolNode(tools))
    graph.add_node("finish", finish, destinations=("coder", END))
    graph.add_edge(START, "coder")
    graph.add_conditional_edges("coder", needs_tools, ["tools", "finish"])
    graph.add_edge("tools", "coder")
    return graph.compile(name="strategy_code_agent")


@functools.cache
def get_strategy_code_graph() -> CompiledStateGraph[Any]:
    """The code agent with the configured model, built once."""
    return build_strategy_code_graph()


def _config(callbacks: Sequence[BaseCallbackHandler] | None) -> RunnableConfig:
    return {"callbacks": list(callbacks)} if callbacks else {}


def _result(state: dict[str, Any]) -> GeneratedStrategy:
    if not state.get("valid") or not state.get("code") or not state.get("class_name"):
        raise StrategyCodeError(f"no valid strategy code: {state.get('errors')}")
    return GeneratedStrategy(class_name=state["class_name"], code=state["code"])


def generate_strategy_code(
    prompt: str,
    *,
    callbacks: Sequence[BaseCallbackHandler] | None = None,
    graph: CompiledStateGraph[Any] | None = None,
) -> GeneratedStrategy:
    """Write a Freqtrade strategy for ``prompt``; returns its class name and code.

    Args:
        prompt: What the strategy should do ("an SMA crossover 10/30 on 1h").
        callbacks: LangChain callbacks for the run (``LoggingCallback()`` to log it).
        graph: The agent to use; default :func:`get_strategy_code_graph`.

    Raises:
        StrategyCodeError: The agent gave up without valid code.
    """
    agent = graph or get_strategy_code_graph()
    state = agent.invoke(
        {"messages": [HumanMessage(prompt)], "request": prompt}, config=_config(callbacks)
    )
    return _result(state)


async def agenerate_strategy_code(
    prompt: str,
    *,
    callbacks: Sequence[BaseCallbackHandler] | None = None,
    graph: CompiledStateGraph[Any] | None = None,
) -> GeneratedStrategy:
    """The async form of :func:`generate_strategy_code`."""
    agent = graph or get_strategy_code_graph()
    state = await agent.ainvoke(
        {"messages": [HumanMessage(prompt)], "request": prompt}, config=_config(callbacks)
    )
    return _result(state)
