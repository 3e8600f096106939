"""Helpers of the agent tests: the runner type and the run's normalised events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from agent_tracing.testing import CapturedEvents, normalize_events

Runner = Callable[[CompiledStateGraph[Any], dict[str, Any], str], dict[str, Any]]
"""``run_graph(graph, state, "sync" | "async")`` -> the final state."""


def agent_events(log_events: CapturedEvents) -> list[dict[str, Any]]:
    """The run's lines, normalised for snapshots (the event loop's own debug line left out)."""
    return normalize_events(line for line in log_events.raw if line["logger"] != "asyncio")
