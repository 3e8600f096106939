"""Fixtures of the agent tests: run a graph sync or async inside a request-like context."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph.graph.state import CompiledStateGraph

import agent_tracing as at
from agent_tracing.langchain import LoggingCallback
from tests.app.agents.support import Runner


@pytest.fixture
def run_graph() -> Runner:
    """Run a graph with LoggingCallback inside a request-like context, ``invoke`` or ``ainvoke``."""

    def run(graph: CompiledStateGraph[Any], state: dict[str, Any], mode: str) -> dict[str, Any]:
        config: Any = {"callbacks": [LoggingCallback(graph=graph)]}
        with at.bind(correlation_id="cid-agent-test", user_id="user_123"):
            with at.span("POST /agents/chat", kind="http.request"):
                if mode == "sync":
                    result: dict[str, Any] = graph.invoke(state, config=config)
                else:
                    result = asyncio.run(graph.ainvoke(state, config=config))
        return result

    return run
