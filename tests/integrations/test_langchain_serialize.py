"""Serialisation of what callbacks get: messages, Documents, Send, Command, Interrupt, models."""

from __future__ import annotations

import enum
from types import MappingProxyType

import orjson
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.types import Command, Interrupt, Send
from pydantic import BaseModel

from agent_tracing.langchain import message_dict, to_loggable
from agent_tracing.langchain.serialize import cut, route_labels


class Order(BaseModel):
    """A pydantic model found in state."""

    pair: str
    amount: float


def test_messages_keep_role_content_tool_calls_and_ids() -> None:
    """Messages become {role, content} plus name, tool calls, tool call id and error status."""
    ai = AIMessage(
        content="",
        tool_calls=[{"name": "lookup", "args": {"pair": "BTC/USDT"}, "id": "c1"}],
    )
    tool = ToolMessage("boom", tool_call_id="c1", status="error", name="lookup")
    blocks = HumanMessage(content=[{"type": "text", "text": "hi"}])
    assert to_loggable([SystemMessage("be brief"), ai, tool, blocks], None) == [
        {"role": "system", "content": "be brief"},
        {
            "role": "ai",
            "content": "",
            "tool_calls": [{"name": "lookup", "args": {"pair": "BTC/USDT"}, "id": "c1"}],
        },
        {
            "role": "tool",
            "content": "boom",
            "name": "lookup",
            "tool_call_id": "c1",
            "status": "error",
        },
        {"role": "human", "content": [{"type": "text", "text": "hi"}]},
    ]


def test_documents_send_command_interrupt_and_models() -> None:
    """Document, Send, Command, Interrupt and pydantic models become small JSON-ready mappings."""
    value = {
        "doc": Document("BTC rallies", id="d1", metadata={"source": "news"}),
        "send": Send("price", {"pair": "ETH/USDT"}),
        "command": Command(goto=["a", Send("b", 1)], update={"k": 1}, resume="yes"),
        "interrupt": Interrupt(value={"question": "ok?"}, id="i1"),
        "order": Order(pair="BTC/USDT", amount=0.5),
    }
    assert to_loggable(value, None) == {
        "doc": {"id": "d1", "page_content": "BTC rallies", "metadata": {"source": "news"}},
        "send": {"send": "price", "arg": {"pair": "ETH/USDT"}},
        "command": {
            "command": {
                "goto": ["a", {"send": "b", "arg": 1}],
                "update": {"k": 1},
                "resume": "yes",
            }
        },
        "interrupt": {"interrupt": {"question": "ok?"}, "id": "i1"},
        "order": {"pair": "BTC/USDT", "amount": 0.5},
    }
    orjson.dumps(to_loggable(value, None))


def test_long_texts_deep_nesting_and_long_lists_are_bounded() -> None:
    """Text is cut with a marker, nesting past six levels and lists past 100 items are cut."""
    deep: dict[str, object] = {"v": 1}
    for _ in range(10):
        deep = {"n": deep}
    out = to_loggable({"text": "x" * 50, "deep": deep, "items": list(range(150))}, 10)
    assert out["text"] == "xxxxxxxxxx…[truncated 40 chars]"
    assert "<dict>" in orjson.dumps(out["deep"]).decode()
    assert len(out["items"]) == 101
    assert out["items"][-1] == "…50 more"
    assert cut("short", 10) == "short"
    assert message_dict(HumanMessage("y" * 20), 4)["content"] == "yyyy…[truncated 16 chars]"


def test_other_mappings_sequences_and_scalar_subclasses_read_as_the_plain_ones() -> None:
    """Mapping and tuple types, long mappings, str and int subclasses: the same forms as dicts,
    lists, str and int (the exact-type fast paths change no output)."""

    class Side(enum.StrEnum):
        BUY = "buy-" * 5

    class Size(enum.IntEnum):
        LOT = 3

    big = {index: index for index in range(150)}
    out = to_loggable(MappingProxyType({1: ("a", Side.BUY), "n": Size.LOT}), 6)
    assert out == {"1": ["a", "buy-bu…[truncated 14 chars]"], "n": 3}
    assert out["n"] is Size.LOT
    assert to_loggable(MappingProxyType(big), None) == to_loggable(big, None)
    long = to_loggable(big, None)
    assert (len(long), long["…"], long["99"]) == (101, "50 more", 99)
    assert to_loggable((True, None, 1.5), None) == [True, None, 1.5]


def test_route_labels_reads_every_routing_output() -> None:
    """Labels, label lists, Send lists and Commands are routes; a state update is not."""
    assert route_labels("tools") == (["tools"], ["tools"])
    assert route_labels(["a", "b"]) == (["a", "b"], ["a", "b"])
    assert route_labels([Send("w", 1), Send("w", 2)]) == (["w", "w"], ["w", "w"])
    assert route_labels(Command(goto="report")) == (["report"], ["report"])
    assert route_labels(Command(update={"k": 1})) is None
    assert route_labels({"messages": []}) is None
    assert route_labels([{"k": 1}]) is None
