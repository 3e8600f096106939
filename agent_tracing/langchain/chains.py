"""Graph, node, routing and chain events of ``LoggingCallback``.

A node run carries the tag ``graph:step:N``; a conditional edge runs as a later step of its source
node (tag ``seq:step:N``, N >= 2) and is reported by its output (a label, labels, ``Send``s); a
graph invoked inside a node looks like any chain until its first node starts, and is promoted to a
graph then.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage
from langgraph.errors import GraphBubbleUp, GraphInterrupt, ParentCommand
from langgraph.types import Command

from agent_tracing.langchain.base import HandlerBase, run_name, user_metadata
from agent_tracing.langchain.runs import NOTHING, RunState
from agent_tracing.langchain.serialize import route_labels

__all__ = ["ChainEvents"]

# Marks a bubbling Command(graph=PARENT) whose decision was logged by the node that issued it.
_ROUTED = "_agent_tracing_routed"


class ChainEvents(HandlerBase):
    """``on_chain_*``: the graph, its nodes, routing decisions, nested graphs, other chains."""

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a graph or node start; remember routing functions and other chains."""
        try:
            name = run_name(serialized, kwargs, "chain")
            parent = self.runs.get(parent_run_id)
            if parent is None:
                kind = "graph"
            elif tags and _node_step(tags):
                kind = "node"
                if parent.pending_input is not NOTHING:
                    self._promote(parent)
            elif parent.kind == "node" and name != parent.name and _after_node_function(tags):
                kind = "route"  # decided at its end, where its output says whether it routed
            else:
                kind = "chain"
            state = self._start(run_id, parent, parent_run_id, kind, name, metadata)
            if kind == "route":
                return
            if kind == "chain" and serialized is None:
                # A graph invoked inside a node looks like this until its first node starts.
                state.pending_input = inputs
                return
            self._log_start(state, inputs, tags, metadata)
        except Exception as error:
            self._guard_failed("on_chain_start", error)

    def _promote(self, state: RunState) -> None:
        """Make a chain whose child is a node a graph (a nested agent) and log its start."""
        state.kind = "graph"
        state.fields = {**state.fields, "component": self.component or state.name}
        state.extra = None
        inputs, state.pending_input = state.pending_input, NOTHING
        self._log_start(state, inputs, None, None)

    def _log_start(
        self,
        state: RunState,
        inputs: Any,
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        level = self.levels[state.kind]
        if not self._enabled(level):
            return
        data: dict[str, Any] = {}
        if state.kind == "graph":
            data["graph"] = state.name
            user = user_metadata(metadata)
            if user:
                data["metadata"] = user
            if tags:
                data["tags"] = tags
            if self.log_prompts:
                data["input"] = self._body(inputs)
        elif state.kind == "node" and metadata:
            data["step"] = metadata.get("langgraph_step")
            data["triggers"] = list(metadata.get("langgraph_triggers") or ())
        elif self.log_prompts:
            data["input"] = self._body(inputs)
        self._line(
            level, state, f"agent.{state.kind}.start", f"{state.kind} {state.name} started", data
        )

    def on_chain_end(
        self,
        outputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a graph or node end, a routing decision, or a chain end."""
        state = self.runs.pop(run_id)
        if state is None:
            return
        try:
            if state.kind == "route":
                found = route_labels(outputs)
                if found is not None:
                    self._decision(state, state.node or "", state.name, *found, via="edge")
                elif self._enabled(self.levels["chain"]):
                    chain_data = {"output": self._body(outputs)} if self.log_outputs else {}
                    self._line(
                        self.levels["chain"],
                        state,
                        "agent.chain.end",
                        f"chain {state.name} ended",
                        chain_data,
                        duration=True,
                    )
                return
            level = self.levels[state.kind]
            if self._enabled(level):
                data: dict[str, Any] = {"status": "ok"}
                if self.log_outputs:
                    if state.kind == "graph":
                        data["output"] = self._body(_final_state(outputs))
                    elif state.reported_child and isinstance(outputs, Mapping):
                        data["updated"] = list(outputs)
                    else:
                        data["output"] = self._body(outputs)
                self._line(
                    level,
                    state,
                    f"agent.{state.kind}.end",
                    f"{state.kind} {state.name} ended",
                    data,
                    duration=True,
                )
            if state.kind == "node":
                found = route_labels(outputs) if _is_command(outputs) else None
                if found is not None:
                    self._decision(state, state.name, state.name, *found, via="command")
        except Exception as error:
            self._guard_failed("on_chain_end", error)

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a failed graph, node or chain; an interrupt or a parent command is not a failure."""
        state = self.runs.pop(run_id)
        if state is None:
            return
        try:
            kind = "chain" if state.kind == "route" else state.kind
            if isinstance(error, ParentCommand):
                # Command(graph=PARENT): not a failure. The node that issued it logs the decision;
                # the runs it bubbles through (its graph, the parent's node) only end.
                command = error.args[0]
                self._emit(self.levels[kind], state, f"agent.{kind}.end",
                           f"{kind} {state.name} ended with a command to the parent graph",
                           {"status": "command"}, duration=True)  # fmt: skip
                if state.kind == "node" and not getattr(error, _ROUTED, False):
                    setattr(error, _ROUTED, True)
                    found = route_labels(command)
                    if found is not None:
                        self._decision(state, state.name, state.name, *found, via="command")
                return
            if isinstance(error, GraphBubbleUp):
                level = self.levels[kind]
                data: dict[str, Any] = {"status": "interrupted"}
                if isinstance(error, GraphInterrupt) and error.args:
                    data["interrupts"] = self._body(error.args[0])
                self._emit(
                    level,
                    state,
                    f"agent.{kind}.end",
                    f"{kind} {state.name} interrupted",
                    data,
                    duration=True,
                )
                return
            self._emit(
                logging.ERROR,
                state,
                f"agent.{kind}.error",
                f"{kind} {state.name} failed",
                {"status": "error"},
                exc=error,
                duration=True,
            )
        except Exception as failure:
            self._guard_failed("on_chain_error", failure)

    def _decision(
        self,
        state: RunState,
        from_node: str,
        edge: str,
        labels: list[Any],
        targets: list[str],
        *,
        via: str,
    ) -> None:
        level = self.levels["route"]
        if not self._enabled(level):
            return
        ends = self._route_maps.get((from_node, edge))
        if ends:
            targets = [str(ends.get(label, label)) for label in labels]
        data = {
            "from_node": from_node,
            "edge": edge,
            "via": via,
            "labels": labels,
            "targets": targets,
        }
        self._line(
            level,
            state,
            "agent.route.decision",
            f"route {from_node} -> {', '.join(targets)}",
            data,
            duration=via == "edge",
        )


def _final_state(output: Any) -> Any:
    """A graph's output with each message list cut to its count and last message (every message
    was logged when a model or a tool produced it)."""
    if not isinstance(output, Mapping):
        return output
    out: dict[str, Any] = {}
    for key, value in output.items():
        if isinstance(value, list) and len(value) > 1 and isinstance(value[-1], BaseMessage):
            out[key] = {"count": len(value), "last": value[-1]}
        else:
            out[key] = value
    return out


def _node_step(tags: list[str]) -> bool:
    """Whether a run's tags mark it as a graph node (``graph:step:N``)."""
    for tag in tags:  # noqa: SIM110 - a loop, not a generator per chain start
        if tag.startswith("graph:step:"):
            return True
    return False


def _after_node_function(tags: list[str] | None) -> bool:
    """Whether a node's child run is a later step of the node (a routing function), not a run
    made inside the node's function (which carries the function's ``seq:step:1``)."""
    for tag in tags or ():
        if tag.startswith("seq:step:"):
            try:
                return int(tag[9:]) >= 2
            except ValueError:
                return False
    return False


def _is_command(output: Any) -> bool:
    if isinstance(output, Command):
        return True
    return isinstance(output, (list, tuple)) and any(isinstance(o, Command) for o in output)
