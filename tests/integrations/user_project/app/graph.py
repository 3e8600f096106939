"""A small LangGraph agent: a fake chat model answers, a conditional edge routes on the answer."""

from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

model = FakeListChatModel(responses=["Buy: the trend is up."])


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    decision: str


def think(state: State) -> dict[str, Any]:
    reply = model.invoke(state["messages"])
    return {"messages": [reply], "decision": str(reply.content).split(":")[0].lower()}


def buy(state: State) -> dict[str, Any]:
    return {"decision": "bought"}


def hold(state: State) -> dict[str, Any]:
    return {"decision": "held"}


def choose(state: State) -> str:
    return "buy" if state["decision"] == "buy" else "hold"


builder = StateGraph(State)
builder.add_node("think", think)
builder.add_node("buy", buy)
builder.add_node("hold", hold)
builder.add_edge(START, "think")
builder.add_conditional_edges("think", choose, {"buy": "buy", "hold": "hold"})
builder.add_edge("buy", END)
builder.add_edge("hold", END)
graph = builder.compile(name="trader")
