"""LoggingCallback under inherited context: a FastAPI request, a thread-hopping ainvoke, parallel
branches, and 50 concurrent runs with distinct ids."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import Any

import httpx
from fastapi import FastAPI, Request
from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph

import agent_tracing as at
from agent_tracing.langchain import LoggingCallback
from agent_tracing.testing import CapturedEvents
from tests.integrations.langchain_support import ToolThenAnswerModel, fan_out_graph, reference_graph


def agent_lines(log_events: CapturedEvents) -> list[dict[str, Any]]:
    """The raw lines logged by the callback."""
    return [line for line in log_events.raw if (line["event"] or "").startswith("agent.")]


def request_app() -> FastAPI:
    """A tiny app whose routes bind the request context like the HTTP middleware does."""
    app = FastAPI()
    graph = reference_graph()
    callback = LoggingCallback()

    def request_context(request: Request) -> tuple[at.bind, at.Span]:
        cid = request.headers["x-correlation-id"]
        return (
            at.bind(correlation_id=cid, user_id=request.headers["x-user-id"]),
            at.span(f"{request.method} {request.url.path}", kind="http.request"),
        )

    @app.post("/async")
    async def run_async(request: Request) -> dict[str, Any]:
        bound, span = request_context(request)
        with bound, span as current:
            state = await graph.ainvoke({"messages": [HumanMessage("price?")]},
                                        config={"callbacks": [callback]})  # fmt: skip
            return {"span_id": current.span_id, "answer": state["messages"][-1].content}

    @app.post("/sync")
    def run_sync(request: Request) -> dict[str, Any]:
        bound, span = request_context(request)
        with bound, span as current:
            state = graph.invoke({"messages": [HumanMessage("price?")]},
                                 config={"callbacks": [callback]})  # fmt: skip
            return {"span_id": current.span_id, "answer": state["messages"][-1].content}

    return app


def test_fastapi_request_context_reaches_every_event(log_events: CapturedEvents) -> None:
    """Ids bound for a request (async and sync routes) are on every event; the run hangs under
    the request's span."""

    async def call() -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app=request_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            out = []
            for path, cid in (("/async", "cid-async"), ("/sync", "cid-sync")):
                headers = {"x-correlation-id": cid, "x-user-id": f"user-{path[1:]}"}
                response = await client.post(path, headers=headers)
                assert response.status_code == 200
                out.append(response.json())
            return out

    bodies = asyncio.run(call())
    lines = agent_lines(log_events)
    by_cid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_cid[line["correlation_id"]].append(line)
    assert {"cid-async", "cid-sync"} == set(by_cid)
    for body, (cid, user) in zip(
        bodies, (("cid-async", "user-async"), ("cid-sync", "user-sync")), strict=True
    ):
        assert len(by_cid[cid]) == 16
        assert {user} == {line["user_id"] for line in by_cid[cid]}
        roots = [line for line in by_cid[cid] if line["data"]["depth"] == 0]
        assert {body["span_id"]} == {line["parent_span_id"] for line in roots}
        assert body["answer"] == "The price is 42000.5."


def test_ainvoke_context_reaches_sync_nodes_in_executor_threads(log_events: CapturedEvents) -> None:
    """Under ainvoke a sync node runs in another thread; it and every event see the bound ids."""
    seen: list[tuple[int, Any]] = []
    llm = ToolThenAnswerModel()

    def agent(state: MessagesState) -> dict[str, Any]:
        seen.append((threading.get_ident(), at.get_context_value("correlation_id")))
        at.get_logger("app.agents.test").info("inside the node", event="app.node.work")
        return {"messages": [llm.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    graph = builder.compile()

    async def main() -> int:
        with at.bind(correlation_id="cid-hop"):
            await graph.ainvoke({"messages": [HumanMessage("hi")]},
                                config={"callbacks": [LoggingCallback()]})  # fmt: skip
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    ((node_thread, node_cid),) = seen
    assert loop_thread != node_thread
    assert node_cid == "cid-hop"
    ours = [line for line in log_events.raw if line["logger"] != "asyncio"]
    assert {line["correlation_id"] for line in ours} == {"cid-hop"}
    assert len(log_events.by_event("app.node.work")) == 1


def test_parallel_branches_carry_the_context(log_events: CapturedEvents) -> None:
    """Send fan-out branches run in parallel under invoke; every event carries the request ids."""
    with at.bind(correlation_id="cid-fan", backtest_id=7):
        fan_out_graph().invoke({"pairs": ["A", "B", "C", "D"]}, {"callbacks": [LoggingCallback()]})
    lines = agent_lines(log_events)
    price_starts = [
        line
        for line in log_events.by_event("agent.node.start")
        if line["data"]["langgraph_node"] == "price"
    ]
    assert len(price_starts) == 4
    assert {("cid-fan", 7)} == {(line["correlation_id"], line["backtest_id"]) for line in lines}


def test_fifty_concurrent_runs_keep_their_ids(log_events: CapturedEvents) -> None:
    """50 concurrent ainvokes through one handler: each run's events carry its own ids only."""
    graph = reference_graph()
    callback = LoggingCallback()

    async def one(n: int) -> str:
        with at.bind(correlation_id=f"cid-{n}", user_id=f"user-{n}", strategy_id=n):
            with at.span(f"request {n}", kind="http.request") as request:
                await graph.ainvoke({"messages": [HumanMessage(f"price {n}?")]},
                                    config={"callbacks": [callback]})  # fmt: skip
                assert request.span_id is not None
                return request.span_id

    async def main() -> list[str]:
        return await asyncio.gather(*(one(n) for n in range(50)))

    request_spans = asyncio.run(main())
    lines = agent_lines(log_events)
    roots: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for line in lines:
        roots[line["data"]["root_run_id"]].add(
            (line["correlation_id"], line["user_id"], line["strategy_id"])
        )
    assert len(roots) == 50
    assert all(len(ids) == 1 for ids in roots.values())
    expected = {(f"cid-{n}", f"user-{n}", n) for n in range(50)}
    assert expected == {next(iter(ids)) for ids in roots.values()}
    for line in lines:
        n = line["strategy_id"]
        assert line["correlation_id"] == f"cid-{n}"
        assert f"price {n}?" in str(line["data"]) or line["event"] != "agent.graph.start"
        if line["data"]["depth"] == 0:
            assert request_spans[n] == line["parent_span_id"]
    assert len(lines) == 50 * 16
    assert len(callback.runs) == 0


def test_task_context_reaches_every_event(log_events: CapturedEvents) -> None:
    """A worker-like thread that sets a task's context (as the task integration does) sees it
    on every event, and the run hangs under the task's span."""
    carried = {"correlation_id": "cid-task", "user_id": "user-7", "backtest_id": 789}
    spans: list[str | None] = []

    def task_body() -> None:
        token = at.replace_contextvars(carried)
        try:
            with at.span("tasks.run_agent", kind="task") as task:
                spans.append(task.span_id)
                reference_graph().invoke(
                    {"messages": [HumanMessage("price?")]},
                    config={"callbacks": [LoggingCallback()]},
                )
        finally:
            at.reset_contextvars(token)

    worker = threading.Thread(target=task_body)
    worker.start()
    worker.join(timeout=60)
    lines = agent_lines(log_events)
    assert len(lines) == 16
    assert {(line["correlation_id"], line["user_id"], line["backtest_id"]) for line in lines} == {
        ("cid-task", "user-7", 789)
    }
    assert lines[0]["parent_span_id"] == spans[0]
