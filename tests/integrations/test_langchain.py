"""LoggingCallback: events of real LangGraph runs, the run tree as a span tree, routing decisions,
failures, secrets, limits, options and the run map."""

from __future__ import annotations

import ast
import asyncio
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from langchain_core.callbacks import BaseCallbackHandler, dispatch_custom_event
from langchain_core.documents import Document
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

import agent_tracing as at
from agent_tracing.context import _CONTEXT
from agent_tracing.langchain import LoggingCallback
from agent_tracing.langchain.base import HandlerBase
from agent_tracing.testing import CapturedEvents
from tests.integrations.langchain_support import (
    LabelState,
    ToolThenAnswerModel,
    fan_out_graph,
    labelled_routes_graph,
    reference_graph,
)

AGENT = "agent."


def agent_lines(log_events: CapturedEvents) -> list[dict[str, Any]]:
    """The raw lines logged by the callback (events under ``agent.``)."""
    return [line for line in log_events.raw if (line["event"] or "").startswith(AGENT)]


def names(lines: list[dict[str, Any]]) -> list[str]:
    """Event names, with the node of node events (``agent.node.start:agent``)."""
    out = []
    for line in lines:
        node = (line["data"] or {}).get("langgraph_node")
        event = line["event"]
        out.append(f"{event}:{node}" if event.startswith("agent.node") else event)
    return out


HUMAN = {"messages": [HumanMessage("What is the BTC price?")]}
REFERENCE_EVENTS = [
    "agent.graph.start",
    "agent.node.start:agent",
    "agent.llm.start",
    "agent.llm.end",
    "agent.route.decision",
    "agent.node.end:agent",
    "agent.node.start:tools",
    "agent.tool.start",
    "agent.tool.end",
    "agent.node.end:tools",
    "agent.node.start:agent",
    "agent.llm.start",
    "agent.llm.end",
    "agent.route.decision",
    "agent.node.end:agent",
    "agent.graph.end",
]


def test_reference_graph_events_in_order(log_events: CapturedEvents) -> None:
    """A model call, a tool call and two routing decisions give the expected event sequence."""
    reference_graph().invoke(HUMAN, config={"callbacks": [LoggingCallback()]})
    assert names(agent_lines(log_events)) == REFERENCE_EVENTS


def test_every_event_carries_run_ids_and_ends_carry_duration(log_events: CapturedEvents) -> None:
    """run_id, parent_run_id, root_run_id and depth on every event; duration_ms on ends."""
    reference_graph().invoke(HUMAN, config={"callbacks": [LoggingCallback()]})
    lines = agent_lines(log_events)
    root = lines[0]["data"]["run_id"]
    for line in lines:
        data = line["data"]
        assert {"run_id", "parent_run_id", "root_run_id", "depth"} <= data.keys()
        assert root == data["root_run_id"]
        if line["event"].endswith((".end", ".error")):
            assert isinstance(data["duration_ms"], float)
    assert sorted({line["data"]["depth"] for line in lines}) == [0, 1, 2]
    assert {"reference_agent"} == {line["component"] for line in lines}


def test_run_tree_hangs_under_the_enclosing_span(log_events: CapturedEvents) -> None:
    """The root run's parent span is the request span; each run's parent span is its parent's."""
    with at.bind(correlation_id="cid-1", user_id="u1"):
        with at.span("POST /agents", kind="http.request") as request:
            reference_graph().invoke(HUMAN, config={"callbacks": [LoggingCallback()]})
    lines = agent_lines(log_events)
    span_of_run = {line["data"]["run_id"]: line["span_id"] for line in lines}
    root = lines[0]
    assert request.span_id == root["parent_span_id"]
    for line in lines:
        if line["data"]["depth"] == 0:
            assert request.span_id == line["parent_span_id"]
            continue
        assert span_of_run[line["data"]["parent_run_id"]] == line["parent_span_id"]
    assert len(set(span_of_run.values())) == len(span_of_run)
    assert {("cid-1", "u1")} == {(line["correlation_id"], line["user_id"]) for line in lines}


def test_model_events_carry_prompt_output_usage_and_finish_reason(
    log_events: CapturedEvents,
) -> None:
    """LLM start has the messages and parameters; LLM end the tool calls, usage, finish reason."""
    reference_graph().invoke(HUMAN, config={"callbacks": [LoggingCallback()]})
    start, second_start = log_events.by_event("agent.llm.start")
    first_end, second_end = log_events.by_event("agent.llm.end")
    assert start["data"]["messages"] == [{"role": "human", "content": "What is the BTC price?"}]
    assert start["data"]["model"] == "ToolThenAnswerModel"
    assert second_start["data"]["messages"][-1]["role"] == "tool"
    assert first_end["data"]["tool_calls"] == [
        {"name": "lookup_price", "args": {"pair": "BTC/USDT"}, "id": "call_1"}
    ]
    assert first_end["data"]["usage"] == {
        "input_tokens": 10,
        "output_tokens": 3,
        "total_tokens": 13,
    }
    assert (
        first_end["data"]["finish_reason"],
        second_end["data"]["finish_reason"],
    ) == ("tool_calls", "stop")
    assert second_end["data"]["output"] == "The price is 42000.5."


def test_tool_events_carry_name_input_call_id_and_output(log_events: CapturedEvents) -> None:
    """Tool start has the name, the input and the tool call id; tool end the output."""
    reference_graph().invoke(HUMAN, config={"callbacks": [LoggingCallback()]})
    (start,) = log_events.by_event("agent.tool.start")
    (end,) = log_events.by_event("agent.tool.end")
    assert (
        start["data"]["tool"],
        start["data"]["input"],
        start["data"]["tool_call_id"],
    ) == ("lookup_price", {"pair": "BTC/USDT"}, "call_1")
    assert (end["data"]["output"], end["data"]["status"]) == ("42000.5", "ok")


def test_conditional_edge_decision_names_label_target_and_source(
    log_events: CapturedEvents,
) -> None:
    """A conditional edge logs its label, the target node and the node it leaves."""
    graph = labelled_routes_graph()
    state: LabelState = {"text": "buy BTC"}
    graph.invoke(state, config={"callbacks": [LoggingCallback(graph=graph)]})
    (decision,) = log_events.by_event("agent.route.decision")
    data = decision["data"]
    assert (
        data["from_node"],
        data["edge"],
        data["via"],
        data["labels"],
        data["targets"],
    ) == ("classify", "pick", "edge", ["buy"], ["place_order"])
    assert decision["message"] == "route classify -> place_order"


def test_send_fan_out_and_command_goto_are_decisions(log_events: CapturedEvents) -> None:
    """Send fan-out names each branch; Command(goto=...) names its target; both branches run."""
    fan_out_graph().invoke({"pairs": ["BTC/USDT", "ETH/USDT"]}, {"callbacks": [LoggingCallback()]})
    fan, command = log_events.by_event("agent.route.decision")
    assert (
        fan["data"]["from_node"],
        fan["data"]["targets"],
        fan["data"]["via"],
    ) == ("plan", ["price", "price"], "edge")
    assert (
        command["data"]["from_node"],
        command["data"]["targets"],
        command["data"]["via"],
    ) == ("decide", ["report"], "command")
    price_ends = [
        line
        for line in log_events.by_event("agent.node.end")
        if line["data"]["langgraph_node"] == "price"
    ]
    assert sorted((line["data"]["output"] for line in price_ends), key=str) == [
        {"prices": ["BTC/USDT=1"]},
        {"prices": ["ETH/USDT=1"]},
    ]
    (decide_end,) = [
        line
        for line in log_events.by_event("agent.node.end")
        if line["data"]["langgraph_node"] == "decide"
    ]
    assert decide_end["data"]["output"] == {
        "command": {"goto": ["report"], "update": {"verdict": "report"}}
    }


def test_a_failing_tool_logs_tool_node_and_graph_errors(log_events: CapturedEvents) -> None:
    """A tool that raises gives tool, node and graph error events; the run map is left empty."""
    callback = LoggingCallback()
    graph = reference_graph(
        ToolThenAnswerModel(tool_args={"pair": "FAIL/USDT"}), handle_tool_errors=False
    )
    with pytest.raises(RuntimeError, match="exchange unavailable"):
        graph.invoke(HUMAN, config={"callbacks": [callback]})
    (tool_error,) = log_events.by_event("agent.tool.error")
    assert (
        tool_error["level"],
        tool_error["exception"]["type"],
        tool_error["exception"]["message"],
    ) == ("ERROR", "RuntimeError", "exchange unavailable")
    assert [line["event"] for line in agent_lines(log_events)[-2:]] == [
        "agent.node.error",
        "agent.graph.error",
    ]
    assert len(callback.runs) == 0


def test_a_handled_tool_error_is_logged_and_the_run_goes_on(log_events: CapturedEvents) -> None:
    """With ToolNode handling errors, the tool error is logged and the graph still ends well."""
    graph = reference_graph(ToolThenAnswerModel(tool_args={"pair": "FAIL/USDT"}))
    graph.invoke(HUMAN, config={"callbacks": [LoggingCallback()]})
    assert len(log_events.by_event("agent.tool.error")) == 1
    assert log_events.by_event("agent.graph.end")[0]["data"]["status"] == "ok"


def test_a_failing_node_logs_node_and_graph_errors(log_events: CapturedEvents) -> None:
    """A node that raises: node error with the exception, then graph error; nothing swallowed."""

    def broken(state: LabelState) -> dict[str, Any]:
        raise ValueError("bad state")

    builder = StateGraph(LabelState)
    builder.add_node("broken", broken)
    builder.add_edge(START, "broken")
    callback = LoggingCallback()
    with pytest.raises(ValueError, match="bad state"):
        builder.compile().invoke({"text": ""}, config={"callbacks": [callback]})
    node_error, graph_error = agent_lines(log_events)[-2:]
    assert (
        node_error["event"],
        node_error["data"]["langgraph_node"],
        node_error["exception"]["type"],
    ) == ("agent.node.error", "broken", "ValueError")
    assert (graph_error["event"], graph_error["data"]["status"]) == ("agent.graph.error", "error")
    assert len(callback.runs) == 0


def test_secrets_in_prompt_tool_input_and_metadata_never_appear(
    log_events: CapturedEvents,
) -> None:
    """A secret planted in the prompt, a tool input and the run metadata is never written."""
    secret = "sk-live-9f8e7d6c5b4a3f2e1d0c9b8a"
    model = ToolThenAnswerModel(tool_args={"pair": "BTC/USDT", "api_key": secret})
    prompt = {"messages": [HumanMessage(f"my key is api_key={secret}, Bearer {secret}")]}
    config: RunnableConfig = {
        "callbacks": [LoggingCallback()],
        "metadata": {"api_key": secret, "note": f"token={secret}", "user_tier": "pro"},
    }
    reference_graph(model).invoke(prompt, config=config)
    text = b"".join(orjson.dumps(line) for line in log_events.raw).decode()
    assert secret not in text
    assert log_events.by_event("agent.graph.start")[0]["data"]["metadata"]["user_tier"] == "pro"
    assert log_events.by_event("agent.tool.start")[0]["data"]["input"]["api_key"] == at.REDACTED


def test_a_one_megabyte_prompt_gives_bounded_lines(log_events: CapturedEvents) -> None:
    """A 1 MB prompt is cut: no line is longer than a few times the core's string limit."""
    prompt = {"messages": [HumanMessage("x" * 1_000_000)]}
    reference_graph().invoke(prompt, config={"callbacks": [LoggingCallback()]})
    sizes = [len(orjson.dumps(line)) for line in agent_lines(log_events)]
    assert max(sizes) < 40_000
    start = log_events.by_event("agent.llm.start")[0]
    assert "[truncated" in start["data"]["messages"][0]["content"]


def test_options_turn_bodies_off_cut_them_and_set_levels(log_events: CapturedEvents) -> None:
    """log_prompts/log_outputs drop bodies, max_body_chars cuts them, levels move event kinds."""
    off = LoggingCallback(log_prompts=False, log_outputs=False, levels={"llm": "DEBUG"})
    reference_graph().invoke(HUMAN, config={"callbacks": [off]})
    for line in agent_lines(log_events):
        assert not {"input", "output", "messages"} & line["data"].keys()
    assert {"DEBUG"} == {
        line["level"] for line in agent_lines(log_events) if ".llm." in line["event"]
    }
    log_events.clear()
    short = LoggingCallback(max_body_chars=5)
    reference_graph().invoke(HUMAN, config={"callbacks": [short]})
    start = log_events.by_event("agent.llm.start")[0]
    assert start["data"]["messages"][0]["content"] == "What …[truncated 17 chars]"
    with pytest.raises(ValueError, match="unknown event kind"):
        LoggingCallback(levels={"nodes": "INFO"})


def test_langchain_reads_plain_ignore_flags_that_ignore_nothing() -> None:
    """Every ``ignore_*`` flag LangChain checks before an event is a plain False attribute of the
    handler (not the base class's property, a call per event)."""
    flags = [name for name in dir(BaseCallbackHandler) if name.startswith("ignore_")]
    assert len(flags) >= 7
    assert {name: vars(HandlerBase).get(name) for name in flags} == dict.fromkeys(flags, False)
    assert not any(getattr(LoggingCallback(), name) for name in flags)


def test_custom_events_retrievers_and_streamed_tokens(log_events: CapturedEvents) -> None:
    """Custom events, retriever start/end with document ids, and token counts when streaming."""

    class Prices(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
            return [Document("BTC 42000", id="d1"), Document("ETH 2500", id="d2")]

    model = GenericFakeChatModel(messages=iter([AIMessage("one two three")]))

    def research(text: str, config: RunnableConfig) -> str:
        dispatch_custom_event("research.progress", {"step": 1}, config=config)
        docs = Prices().invoke(text, config=config)
        chunks = list(model.stream(text, config=config))
        return f"{len(docs)} docs, {len(chunks)} chunks"

    callback = LoggingCallback(stream_tokens=True)
    RunnableLambda(research).invoke("prices", config={"callbacks": [callback]})
    (custom,) = log_events.by_event("agent.custom")
    assert (
        custom["data"]["name"],
        custom["data"]["payload"],
    ) == ("research.progress", {"step": 1})
    (retrieved,) = log_events.by_event("agent.retriever.end")
    assert (
        retrieved["data"]["document_count"],
        retrieved["data"]["document_ids"],
    ) == (2, ["d1", "d2"])
    assert log_events.by_event("agent.retriever.start")[0]["data"]["query"] == "prices"
    (llm_end,) = log_events.by_event("agent.llm.end")
    assert llm_end["data"]["stream"]["tokens"] >= 3
    assert len(callback.runs) == 0


def test_interrupt_and_resume_are_logged(log_events: CapturedEvents) -> None:
    """A node that interrupts logs the interrupt; resuming with Command(resume=...) logs it."""

    def approve(state: LabelState) -> dict[str, Any]:
        answer = interrupt({"question": "place the order?"})
        return {"text": str(answer)}

    builder = StateGraph(LabelState)
    builder.add_node("approve", approve)
    builder.add_edge(START, "approve")
    builder.add_edge("approve", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    callback = LoggingCallback()
    config: RunnableConfig = {"callbacks": [callback], "configurable": {"thread_id": "t1"}}
    graph.invoke({"text": ""}, config=config)
    graph.invoke(Command(resume="yes"), config=config)
    (interrupted,) = log_events.by_event("agent.interrupt")
    assert {"interrupt": interrupted["data"]["interrupts"][0]["interrupt"]} == {
        "interrupt": {"question": "place the order?"}
    }
    assert len(log_events.by_event("agent.resume")) == 1
    node_statuses = [line["data"]["status"] for line in log_events.by_event("agent.node.end")]
    assert node_statuses == ["interrupted", "ok"]
    assert log_events.by_event("agent.node.error") == []
    assert len(callback.runs) == 0


def test_never_sets_a_contextvar_and_never_raises(
    log_events: CapturedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The context is the same object after the run; a failing handler logs once, never raises."""
    with at.bind(correlation_id="cid-2"):
        before = _CONTEXT.get()
        reference_graph().invoke(HUMAN, config={"callbacks": [LoggingCallback()]})
        assert before is _CONTEXT.get()

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("serialiser broke")

    monkeypatch.setattr("agent_tracing.langchain.base.to_loggable", boom)
    log_events.clear()
    callback = LoggingCallback()
    for _ in range(2):
        result = reference_graph().invoke(HUMAN, config={"callbacks": [callback]})
        assert result["messages"][-1].content == "The price is 42000.5."
    failures = log_events.by_event("agent.callback.failed")
    assert {"WARNING"} == {line["level"] for line in failures}
    assert len(failures) == len({line["message"] for line in failures})
    assert len(callback.runs) == 0


def test_run_map_is_empty_after_ten_thousand_runs() -> None:
    """10,000 runs (half failing) through one handler leave nothing in its run map."""
    quiet = logging.getLogger("tests.langchain.quiet")
    quiet.setLevel(logging.CRITICAL + 1)
    callback = LoggingCallback(logger=quiet)

    def work(n: int) -> int:
        if n % 2:
            raise ValueError("odd")
        return n

    chain = RunnableLambda(work)
    for n in range(10_000):
        try:
            chain.invoke(n, config={"callbacks": [callback]})
        except ValueError:
            pass
    assert len(callback.runs) == 0


def test_run_map_is_empty_after_graph_runs_with_errors(log_events: CapturedEvents) -> None:
    """Graph runs that succeed, fail in a tool and fail in a node all leave the map empty."""
    callback = LoggingCallback()
    ok_graph = reference_graph()
    failing = reference_graph(
        ToolThenAnswerModel(tool_args={"pair": "FAIL/USDT"}), handle_tool_errors=False
    )
    for n in range(30):
        try:
            (failing if n % 3 == 0 else ok_graph).invoke(HUMAN, config={"callbacks": [callback]})
        except RuntimeError:
            pass
    assert len(callback.runs) == 0


MODES = ["invoke", "ainvoke", "stream", "astream", "astream_events"]


@pytest.mark.parametrize("mode", MODES)
def test_every_run_mode_gives_the_same_events(mode: str, log_events: CapturedEvents) -> None:
    """invoke, ainvoke, stream, astream and astream_events log the same event sequence."""
    graph = reference_graph()
    config: RunnableConfig = {"callbacks": [LoggingCallback()]}

    async def run_async() -> None:
        if mode == "ainvoke":
            await graph.ainvoke(HUMAN, config=config)
        elif mode == "astream":
            async for _ in graph.astream(HUMAN, config=config):
                pass
        else:
            async for _ in graph.astream_events(HUMAN, config=config, version="v2"):
                pass

    with at.bind(correlation_id=f"cid-{mode}"):
        if mode == "invoke":
            graph.invoke(HUMAN, config=config)
        elif mode == "stream":
            for _ in graph.stream(HUMAN, config=config):
                pass
        else:
            asyncio.run(run_async())
    lines = agent_lines(log_events)
    assert names(lines) == REFERENCE_EVENTS
    assert {f"cid-{mode}"} == {line["correlation_id"] for line in lines}


def test_model_and_retriever_errors_are_logged(log_events: CapturedEvents) -> None:
    """A model call and a retrieval that raise log llm/retriever error events with the exception."""

    class Overloaded(ToolThenAnswerModel):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("provider overloaded")

    class Down(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
            raise ConnectionError("vector store down")

    callback = LoggingCallback()
    with pytest.raises(RuntimeError, match="provider overloaded"):
        reference_graph(Overloaded()).invoke(HUMAN, config={"callbacks": [callback]})
    with pytest.raises(ConnectionError):
        Down().invoke("btc", config={"callbacks": [callback]})
    (llm_error,) = log_events.by_event("agent.llm.error")
    (retriever_error,) = log_events.by_event("agent.retriever.error")
    assert (llm_error["level"], llm_error["exception"]["message"]) == (
        "ERROR",
        "provider overloaded",
    )
    assert retriever_error["exception"]["type"] == "ConnectionError"
    assert len(callback.runs) == 0


def test_a_command_to_the_parent_graph_is_one_decision(log_events: CapturedEvents) -> None:
    """Command(graph=PARENT) from a subgraph's node: one decision by that node, ends elsewhere."""

    def escalate(state: LabelState) -> Command[str]:
        return Command(graph=Command.PARENT, goto="human", update={"text": "escalated"})

    inner = StateGraph(LabelState)
    inner.add_node("escalate", escalate)
    inner.add_edge(START, "escalate")
    outer = StateGraph(LabelState)
    outer.add_node("support", inner.compile(name="support_agent"), destinations=("human",))
    outer.add_node("human", lambda state: {})
    outer.add_edge(START, "support")
    outer.add_edge("human", END)
    callback = LoggingCallback()
    result = outer.compile().invoke({"text": ""}, config={"callbacks": [callback]})
    assert result == {"text": "escalated"}
    (decision,) = log_events.by_event("agent.route.decision")
    assert (decision["data"]["from_node"], decision["data"]["targets"]) == ("escalate", ["human"])
    statuses = [
        (line["event"], line["data"]["status"])
        for line in agent_lines(log_events)
        if line["data"].get("status") == "command"
    ]
    assert statuses == [
        ("agent.node.end", "command"),
        ("agent.graph.end", "command"),
        ("agent.node.end", "command"),
    ]
    assert log_events.by_event("agent.node.error") == []
    assert len(callback.runs) == 0


def test_the_integration_imports_the_core_and_its_frameworks_only() -> None:
    """No module of agent_tracing.langchain imports another integration."""
    package = Path(at.__file__).parent / "langchain"
    others = {f"agent_tracing.{name}" for name in ("fastapi", "celery", "freqtrade", "sqlalchemy")}
    imported: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert imported & others == set()
    assert {name.split(".")[0] for name in imported} <= {
        "agent_tracing", "langchain_core", "langgraph", "pydantic", "__future__", "collections",
        "logging", "threading", "time", "typing", "uuid",
    }  # fmt: skip
