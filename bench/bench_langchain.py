"""LangChain benchmark: per-invoke cost of LoggingCallback on a reference LangGraph graph.

The graph: a fake chat model asks for a tool, a ToolNode runs it, a conditional edge routes back,
the model answers, the edge routes to END (18 callback events, 16 of our lines). Each case runs
the same graph, ``invoke`` and ``ainvoke``, with: no callbacks; a no-op handler (LangChain's own
cost of having any handler); ``LoggingCallback`` writing JSON lines to a file (direct, and in the
core's queue mode); LangChain's ``ConsoleCallbackHandler`` with stdout to /dev/null. Rounds are
interleaved across cases so noise hits all alike; medians are printed with the ratio to no
callbacks. Then the process RSS before and after 10,000 runs through one ``LoggingCallback``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.callbacks.manager import CallbackManagerForLLMRun
from langchain_core.language_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langchain_core.tracers.stdout import ConsoleCallbackHandler
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

import agent_tracing as at
from agent_tracing.langchain import LoggingCallback

INVOKES = int(os.environ.get("BENCH_INVOKES", "100"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
RSS_RUNS = int(os.environ.get("BENCH_RSS_RUNS", "10000"))
TMP = tempfile.mkdtemp(prefix="at-bench-lc-")
CONTEXT = {"correlation_id": "a1b2c3d4-e5f6-7890-1234-567890abcdef", "user_id": "user_123",
           "strategy_id": 456}  # fmt: skip


class Model(FakeMessagesListChatModel):
    """Asks for the tool once, then answers (stateless: no list to rewind between runs)."""

    responses: list[BaseMessage] = []

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if isinstance(messages[-1], ToolMessage):
            answer = AIMessage(content=f"BTC is at {messages[-1].content}.")
        else:
            call = {"name": "price", "args": {"pair": "BTC/USDT"}, "id": "call_1"}
            answer = AIMessage(content="", tool_calls=[call])
        answer.usage_metadata = {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14}
        return ChatResult(generations=[ChatGeneration(message=answer)])


@tool
def price(pair: str) -> str:
    """Last price of a pair."""
    return "42000.5"


def reference_graph() -> Any:
    """model -> (edge) tools -> model -> (edge) END."""
    model = Model()

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def route(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([price]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(name="reference_agent")


GRAPH = reference_graph()
STATE = {"messages": [HumanMessage("What is the BTC price?")]}
DEVNULL = open(os.devnull, "w")  # noqa: SIM115 - the console handler's stdout for the whole run


class Noop(BaseCallbackHandler):
    """A handler that does nothing: what LangChain costs with any handler at all."""


def _reset_logging() -> None:
    at.shutdown_logging()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    # ConsoleCallbackHandler fails on ToolNode inputs; LangChain logs that as a warning, which
    # must not reach the terminal (stderr) through logging's last-resort handler.
    root.addHandler(logging.NullHandler())


def case_none() -> list[Any]:
    _reset_logging()
    return []


def case_noop() -> list[Any]:
    _reset_logging()
    return [Noop()]


def case_ours(queue_mode: bool = False) -> list[Any]:
    _reset_logging()
    at.configure_logging(
        console=False,
        json_output=os.path.join(TMP, f"ours-{queue_mode}.jsonl"),
        level="INFO",
        queue_mode=queue_mode,
    )
    return [LoggingCallback()]


def case_console() -> list[Any]:
    _reset_logging()
    return [ConsoleCallbackHandler()]


CASES: dict[str, Callable[[], list[Any]]] = {
    "no callbacks": case_none,
    "no-op handler": case_noop,
    "LoggingCallback (JSON file)": case_ours,
    "LoggingCallback (JSON file, queue mode)": lambda: case_ours(queue_mode=True),
    "ConsoleCallbackHandler (stdout /dev/null)": case_console,
}


def run_sync(callbacks: list[Any]) -> tuple[float, float]:
    """Wall and process CPU milliseconds per ``invoke`` over one batch.

    CPU time counts every thread of the process (a queue-mode listener included: its backlog is
    flushed before the CPU clock stops); wall time is what the caller waits.
    """
    config: Any = {"callbacks": callbacks}
    for _ in range(5):
        GRAPH.invoke(STATE, config=config)
    at.flush_logging()
    gc.collect()  # the previous case's garbage is not this case's cost
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(INVOKES):
        GRAPH.invoke(STATE, config=config)
    wall = time.perf_counter() - start
    at.flush_logging()
    return wall / INVOKES * 1000, (time.process_time() - cpu) / INVOKES * 1000


def run_async(callbacks: list[Any]) -> tuple[float, float]:
    """Wall and process CPU milliseconds per ``ainvoke`` over one batch (one event loop)."""
    config: Any = {"callbacks": callbacks}

    async def batch() -> tuple[float, float]:
        for _ in range(5):
            await GRAPH.ainvoke(STATE, config=config)
        at.flush_logging()
        gc.collect()
        cpu, start = time.process_time(), time.perf_counter()
        for _ in range(INVOKES):
            await GRAPH.ainvoke(STATE, config=config)
        wall = time.perf_counter() - start
        at.flush_logging()
        return wall / INVOKES * 1000, (time.process_time() - cpu) / INVOKES * 1000

    return asyncio.run(batch())


def measure() -> dict[tuple[str, str, str], float]:
    """Median ms per invoke of each case, mode (sync/async) and clock (wall/cpu), rounds
    interleaved across cases."""
    samples: dict[tuple[str, str, str], list[float]] = {}
    for round_ in range(ROUNDS + 1):
        for name, factory in CASES.items():
            for mode, runner in (("sync", run_sync), ("async", run_async)):
                callbacks = factory()
                with at.bind(**CONTEXT), contextlib.redirect_stdout(DEVNULL):
                    wall, cpu = runner(callbacks)
                _reset_logging()
                if round_:  # the first round only warms up
                    samples.setdefault((name, mode, "wall"), []).append(wall)
                    samples.setdefault((name, mode, "cpu"), []).append(cpu)
    return {key: statistics.median(values) for key, values in samples.items()}


def rss_mb() -> float:
    """The process's resident set size now, in MB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def rss_check() -> tuple[float, float, int, float]:
    """RSS before and after RSS_RUNS invokes through one LoggingCallback, and its run map."""
    callbacks = case_ours()
    callback = callbacks[0]
    config: Any = {"callbacks": callbacks}
    with at.bind(**CONTEXT):
        for _ in range(200):  # warm caches before the first reading
            GRAPH.invoke(STATE, config=config)
        before = rss_mb()
        start = time.perf_counter()
        for _ in range(RSS_RUNS):
            GRAPH.invoke(STATE, config=config)
        seconds = time.perf_counter() - start
    after = rss_mb()
    _reset_logging()
    return before, after, len(callback.runs), seconds


def main() -> None:
    results = measure()
    before, after, left, seconds = rss_check()
    print(
        f"\nLangGraph reference graph (18 callback events): median ms per invoke, {ROUNDS} "
        f"interleaved rounds of {INVOKES} invokes, {time.strftime('%Y-%m-%d')}, "
        f"Python {sys.version.split()[0]}; wall = caller's time, CPU = process CPU time"
    )
    print("| case | mode | wall ms | wall / none | CPU ms | CPU / none | CPU / no-op |")
    print("|---|---|---|---|---|---|---|")
    for name in CASES:
        for mode in ("sync", "async"):
            wall, cpu = results[(name, mode, "wall")], results[(name, mode, "cpu")]
            base_wall = results[("no callbacks", mode, "wall")]
            base_cpu = results[("no callbacks", mode, "cpu")]
            noop_cpu = results[("no-op handler", mode, "cpu")]
            print(
                f"| {name} | {mode} | {wall:.3f} | {wall / base_wall:.2f}x | {cpu:.3f} | "
                f"{cpu / base_cpu:.2f}x | {cpu / noop_cpu:.2f}x |"
            )
    print(
        f"\nRSS with LoggingCallback: {before:.1f} MB before, {after:.1f} MB after {RSS_RUNS} "
        f"runs (+{after - before:.1f} MB, {seconds / RSS_RUNS * 1000:.2f} ms per run); "
        f"runs left in the run map: {left}"
    )
    print(
        "target: LoggingCallback (JSON file) <= 1.20x no callbacks; CPU / no-op is the handler's "
        "own cost over LangChain's dispatch to any handler"
    )


if __name__ == "__main__":
    main()
