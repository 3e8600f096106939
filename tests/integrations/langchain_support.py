"""Small real LangGraph graphs for the LangChain integration tests (not a test module)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, Send


class ToolThenAnswerModel(FakeMessagesListChatModel):
    """Asks for ``lookup_price`` once, then answers with the tool's result (stateless, so one
    instance serves concurrent runs)."""

    responses: list[BaseMessage] = []
    tool_args: dict[str, Any] = {"pair": "BTC/USDT"}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if results:
            answer = AIMessage(
                content=f"The price is {results[-1].content}.",
                response_metadata={"model_name": "fake-1", "finish_reason": "stop"},
                usage_metadata={"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
            )
        else:
            call = {"name": "lookup_price", "args": dict(self.tool_args), "id": "call_1"}
            answer = AIMessage(
                content="",
                tool_calls=[call],
                response_metadata={"model_name": "fake-1", "finish_reason": "tool_calls"},
                usage_metadata={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
            )
        return ChatResult(generations=[ChatGeneration(message=answer)])


@tool
def lookup_price(pair: str, api_key: str = "") -> str:
    """Return the last price of a pair."""
    if pair == "FAIL/USDT":
        raise RuntimeError("exchange unavailable")
    return "42000.5"


def reference_graph(
    model: FakeMessagesListChatModel | None = None, *, handle_tool_errors: bool = True
) -> CompiledStateGraph[Any]:
    """Agent -> (conditional edge) tools -> agent -> END: a model call, a tool call, two routes."""
    llm = model or ToolThenAnswerModel()

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [llm.invoke(state["messages"])]}

    def should_continue(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([lookup_price], handle_tool_errors=handle_tool_errors))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", should_continue, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(name="reference_agent")


class FanState(TypedDict, total=False):
    """State of the fan-out graph."""

    pairs: list[str]
    pair: str
    prices: Annotated[list[str], operator.add]
    verdict: str


def fan_out_graph() -> CompiledStateGraph[Any]:
    """plan -> Send(price) per pair (parallel branches) -> decide -> Command(goto=report)."""

    def plan(state: FanState) -> dict[str, Any]:
        return {"pairs": state.get("pairs") or ["BTC/USDT", "ETH/USDT"]}

    def fan(state: FanState) -> list[Send]:
        return [Send("price", {"pair": pair}) for pair in state["pairs"]]

    def price(state: FanState) -> dict[str, Any]:
        return {"prices": [f"{state['pair']}=1"]}

    def decide(state: FanState) -> Command[str]:
        return Command(update={"verdict": "report"}, goto="report")

    def report(state: FanState) -> dict[str, Any]:
        return {}

    graph = StateGraph(FanState)
    graph.add_node("plan", plan)
    graph.add_node("price", price)
    graph.add_node("decide", decide, destinations=("report",))
    graph.add_node("report", report)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", fan, ["price"])
    graph.add_edge("price", "decide")
    graph.add_edge("report", END)
    return graph.compile(name="fan_out_agent")


class LabelState(TypedDict, total=False):
    """State of the labelled-routes graph."""

    text: str


def labelled_routes_graph() -> CompiledStateGraph[Any]:
    """A conditional edge whose labels differ from node names: ``buy`` -> ``place_order``."""

    def classify(state: LabelState) -> dict[str, Any]:
        return {}

    def pick(state: LabelState) -> str:
        return "buy" if "buy" in state.get("text", "") else "hold"

    graph = StateGraph(LabelState)
    graph.add_node("classify", classify)
    graph.add_node("place_order", lambda state: {})
    graph.add_edge(START, "classify")
    graph.add_conditional_edges("classify", pick, {"buy": "place_order", "hold": END})
    graph.add_edge("place_order", END)
    return graph.compile(name="labelled_agent")
