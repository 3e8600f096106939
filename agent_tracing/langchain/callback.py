"""``LoggingCallback``: every LangChain / LangGraph run as structured events in the span tree.

Each run (the graph, a node, a model call, a tool, a retriever, a chain) gets its own span id; the
root run's parent span is the span enclosing the call (the HTTP request, the task), a child run's
parent span is its parent run's span. Lines carry the context fields read once at the root's start
and the span fields of their run, passed per line: the handler never sets a context variable (one
set in a callback under ``invoke`` would leak into the caller after the run).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langgraph.callbacks import GraphCallbackHandler, GraphInterruptEvent, GraphResumeEvent
from langgraph.errors import GraphBubbleUp, GraphInterrupt, ParentCommand
from langgraph.types import Command

from agent_tracing import BoundLogger, get_context_value, get_logger, new_span_id
from agent_tracing.langchain.runs import NOTHING, RunMap, RunState
from agent_tracing.langchain.serialize import (
    document_dict,
    message_dict,
    route_labels,
    to_loggable,
    tool_call_dict,
)

__all__ = ["DEFAULT_LEVELS", "LoggingCallback"]

#: Level of the start/end events of each kind of run (errors are always ERROR).
DEFAULT_LEVELS: Mapping[str, int] = {
    "graph": logging.INFO,
    "node": logging.INFO,
    "route": logging.INFO,
    "llm": logging.INFO,
    "tool": logging.INFO,
    "retriever": logging.INFO,
    "chain": logging.DEBUG,
    "custom": logging.INFO,
    "interrupt": logging.INFO,
}
_CONTEXT_KEYS = ("correlation_id", "user_id", "strategy_id", "backtest_id")
# Invocation parameters worth a line; anything else (keys, clients, headers) is never read.
_PARAMS = ("model", "model_name", "temperature", "max_tokens", "top_p", "top_k", "stop")
# Marks a bubbling Command(graph=PARENT) whose decision was logged by the node that issued it.
_ROUTED = "_agent_tracing_routed"
_BODY_KINDS = frozenset(("llm", "tool", "retriever"))
_INTERNAL_METADATA = ("langgraph_", "ls_", "checkpoint_", "thread_id", "__")


def _level(value: int | str) -> int:
    if isinstance(value, int):
        return value
    level = logging.getLevelName(value.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown level {value!r}")
    return level


def _name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if name:
        return str(name)
    if serialized:
        if serialized.get("name"):
            return str(serialized["name"])
        ids = serialized.get("id")
        if ids:
            return str(ids[-1])
    return default


def _user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not metadata:
        return None
    kept = {k: v for k, v in metadata.items() if not k.startswith(_INTERNAL_METADATA)}
    return kept or None


class LoggingCallback(GraphCallbackHandler):
    """Log a LangChain / LangGraph run as structured JSON events (see the module docstring).

    Usage: ``graph.invoke(state, config={"callbacks": [LoggingCallback()]})``, or
    ``callbacks=[LoggingCallback()]`` wherever LangChain takes callbacks. One instance may serve
    many concurrent runs: its state is kept per run id behind a lock and dropped at each run's end.

    Args:
        logger: Logger (name or object) the events go to; default ``agent_tracing.langchain``.
        component: The ``component`` of every line; default the root run's name (the graph's
            name, ``graph.compile(name=...)``).
        log_prompts: Log prompt messages, graph inputs and tool inputs.
        log_outputs: Log model outputs, node updates, tool outputs and graph outputs.
        max_body_chars: Characters kept of each prompt/output text (the core's ``max_string``
            still applies to the whole line); ``None`` keeps what the core keeps.
        levels: Level per event kind (``graph``, ``node``, ``route``, ``llm``, ``tool``,
            ``retriever``, ``chain``, ``custom``, ``interrupt``), names or numbers, over
            :data:`DEFAULT_LEVELS`.
        stream_tokens: Count streamed tokens and the time to the first one, reported on the model's
            end event (one line per call, never one per token).
        graph: A compiled graph whose conditional edges map labels to other node names, so route
            decisions name their target nodes (without it, targets are the labels).
    """

    raise_error = False
    # Inline under ainvoke: no executor hop per event; the handler only formats and writes a line.
    run_inline = True

    def __init__(
        self,
        *,
        logger: str | logging.Logger | BoundLogger | None = None,
        component: str | None = None,
        log_prompts: bool = True,
        log_outputs: bool = True,
        max_body_chars: int | None = None,
        levels: Mapping[str, int | str] | None = None,
        stream_tokens: bool = False,
        graph: Any = None,
    ) -> None:
        if isinstance(logger, BoundLogger):
            self._log = logger
        elif isinstance(logger, logging.Logger):
            self._log = BoundLogger(logger)
        else:
            self._log = get_logger(logger or "agent_tracing.langchain")
        self.component = component
        self.log_prompts = log_prompts
        self.log_outputs = log_outputs
        self.max_body_chars = max_body_chars
        self.stream_tokens = stream_tokens
        self.levels: dict[str, int] = dict(DEFAULT_LEVELS)
        for kind, value in (levels or {}).items():
            if kind not in DEFAULT_LEVELS:
                raise ValueError(f"unknown event kind {kind!r}; one of {sorted(DEFAULT_LEVELS)}")
            self.levels[kind] = _level(value)
        self.runs = RunMap()
        self._route_maps = _route_maps(graph) if graph is not None else {}
        self._failed: set[str] = set()
        self._failed_lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------
    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        kind: str,
        name: str,
        metadata: Mapping[str, Any] | None,
    ) -> RunState:
        parent = self.runs.get(parent_run_id)
        node = metadata.get("langgraph_node") if metadata else None
        if parent is None:
            fields: dict[str, Any] = {}
            for key in _CONTEXT_KEYS:
                value = get_context_value(key)
                if value is not None:
                    fields[key] = value
            fields["component"] = self.component or name
            state = RunState(
                str(run_id),
                str(parent_run_id) if parent_run_id else None,
                str(run_id),
                0,
                "graph" if kind == "chain" else kind,
                name,
                node,
                new_span_id(),
                get_context_value("span_id"),
                fields,
            )
        else:
            state = RunState(
                str(run_id),
                parent.run_id,
                parent.root_run_id,
                parent.depth + 1,
                kind,
                name,
                node,
                new_span_id(),
                parent.span_id,
                parent.fields,
                parent,
            )
        if parent is not None and kind in _BODY_KINDS:
            # The nodes above now repeat what this run logs: they log their update's keys only.
            ancestor: RunState | None = parent
            while ancestor is not None and not ancestor.reported_child:
                ancestor.reported_child = True
                if ancestor.kind in ("node", "graph"):
                    break
                ancestor = ancestor.parent
        self.runs.add(run_id, state)
        return state

    def _emit(
        self,
        level: int,
        state: RunState,
        event: str,
        message: str,
        data: dict[str, Any],
        exc: BaseException | None = None,
        duration: bool = False,
    ) -> None:
        if not self._log.isEnabledFor(level):
            return
        payload: dict[str, Any] = {
            "run_id": state.run_id,
            "parent_run_id": state.parent_run_id,
            "root_run_id": state.root_run_id,
            "depth": state.depth,
        }
        if state.node is not None:
            payload["langgraph_node"] = state.node
        if duration:
            payload["duration_ms"] = state.duration_ms
        payload.update(data)
        self._log.log(
            level,
            message,
            data=payload,
            event=event,
            exc_info=exc,
            extra={"span_id": state.span_id, "parent_span_id": state.parent_span_id},
            **state.fields,
        )

    def _guard_failed(self, where: str, error: BaseException) -> None:
        """Log a failure of this handler once per callback, and never raise."""
        with self._failed_lock:
            if where in self._failed:
                return
            self._failed.add(where)
        try:
            self._log.warning(
                "LoggingCallback.%s failed; its events may be incomplete",
                where,
                event="agent.callback.failed",
                exc_info=error,
            )
        except Exception:  # pragma: no cover - logging never raises into the graph
            pass

    def _body(self, value: Any) -> Any:
        return to_loggable(value, self.max_body_chars)

    # -- chains: the graph, its nodes, routing functions, other chains ---------------------------
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
            name = _name(serialized, kwargs, "chain")
            parent = self.runs.get(parent_run_id)
            if parent is None:
                kind = "graph"
            elif tags and any(tag.startswith("graph:step:") for tag in tags):
                kind = "node"
                if parent.pending_input is not NOTHING:
                    self._promote(parent)
            elif parent.kind == "node" and name != parent.name and _after_node_function(tags):
                kind = "route"  # decided at its end, where its output says whether it routed
            else:
                kind = "chain"
            state = self._start(run_id, parent_run_id, kind, name, metadata)
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
        if not self._log.isEnabledFor(level):
            return
        data: dict[str, Any] = {}
        if state.kind == "graph":
            data["graph"] = state.name
            user = _user_metadata(metadata)
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
        self._emit(
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
                elif self._log.isEnabledFor(self.levels["chain"]):
                    chain_data = {"output": self._body(outputs)} if self.log_outputs else {}
                    self._emit(
                        self.levels["chain"],
                        state,
                        "agent.chain.end",
                        f"chain {state.name} ended",
                        chain_data,
                        duration=True,
                    )
                return
            level = self.levels[state.kind]
            if self._log.isEnabledFor(level):
                data: dict[str, Any] = {"status": "ok"}
                if self.log_outputs:
                    if state.kind == "graph":
                        data["output"] = self._body(_final_state(outputs))
                    elif state.reported_child and isinstance(outputs, Mapping):
                        data["updated"] = list(outputs)
                    else:
                        data["output"] = self._body(outputs)
                self._emit(
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
        if not self._log.isEnabledFor(level):
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
        self._emit(
            level,
            state,
            "agent.route.decision",
            f"route {from_node} -> {', '.join(targets)}",
            data,
            duration=via == "edge",
        )

    # -- models ------------------------------------------------------------------------------------
    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a chat model call with its prompt messages and parameters."""
        try:
            name = _name(serialized, kwargs, "chat_model")
            state = self._start(run_id, parent_run_id, "llm", name, metadata)
            level = self.levels["llm"]
            if not self._log.isEnabledFor(level):
                return
            data = self._model_data(name, kwargs, metadata)
            if self.log_prompts:
                limit = self.max_body_chars
                batches = [[message_dict(m, limit) for m in batch] for batch in messages]
                data["messages"] = batches[0] if len(batches) == 1 else batches
            self._emit(level, state, "agent.llm.start", f"llm {name} started", data)
        except Exception as error:
            self._guard_failed("on_chat_model_start", error)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a text LLM call with its prompts and parameters."""
        try:
            name = _name(serialized, kwargs, "llm")
            state = self._start(run_id, parent_run_id, "llm", name, metadata)
            level = self.levels["llm"]
            if not self._log.isEnabledFor(level):
                return
            data = self._model_data(name, kwargs, metadata)
            if self.log_prompts:
                data["prompts"] = self._body(prompts)
            self._emit(level, state, "agent.llm.start", f"llm {name} started", data)
        except Exception as error:
            self._guard_failed("on_llm_start", error)

    @staticmethod
    def _model_data(
        name: str, kwargs: Mapping[str, Any], metadata: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        params = kwargs.get("invocation_params") or {}
        data: dict[str, Any] = {
            "model": params.get("model")
            or params.get("model_name")
            or (metadata or {}).get("ls_model_name")
            or name
        }
        provider = (metadata or {}).get("ls_provider") or params.get("_type")
        if provider:
            data["provider"] = provider
        kept = {k: params[k] for k in _PARAMS[2:] if params.get(k) is not None}
        if kept:
            data["params"] = kept
        return data

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Count a streamed token (only when ``stream_tokens`` is on)."""
        if not self.stream_tokens:
            return
        state = self.runs.get(run_id)
        if state is not None:
            if state.tokens == 0:
                state.first_token_ms = state.duration_ms
            state.tokens += 1

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a model's output text, requested tool calls, token usage and finish reason."""
        state = self.runs.pop(run_id)
        if state is None:
            return
        try:
            level = self.levels["llm"]
            if not self._log.isEnabledFor(level):
                return
            data = self._llm_output(response)
            if self.stream_tokens and state.tokens:
                data["stream"] = {"tokens": state.tokens, "first_token_ms": state.first_token_ms}
            self._emit(
                level, state, "agent.llm.end", f"llm {state.name} ended", data, duration=True
            )
        except Exception as error:
            self._guard_failed("on_llm_end", error)

    def _llm_output(self, response: LLMResult) -> dict[str, Any]:
        data: dict[str, Any] = {"status": "ok"}
        first = response.generations[0] if response.generations else None
        generation = first[0] if first else None
        usage: Mapping[str, Any] | None = None
        finish: Any = None
        model: Any = None
        if isinstance(generation, ChatGeneration):
            message = generation.message
            meta = message.response_metadata or {}
            finish = meta.get("finish_reason") or meta.get("stop_reason")
            model = meta.get("model_name") or meta.get("model")
            usage = getattr(message, "usage_metadata", None)
            if self.log_outputs:
                data["output"] = self._body(message.content)
            calls = getattr(message, "tool_calls", None)
            if calls:
                limit = self.max_body_chars
                data["tool_calls"] = [tool_call_dict(call, limit) for call in calls]
        elif generation is not None and self.log_outputs:
            data["output"] = self._body(generation.text)
        if generation is not None and finish is None and generation.generation_info:
            finish = generation.generation_info.get("finish_reason")
        if usage is None and response.llm_output:
            usage = response.llm_output.get("token_usage") or response.llm_output.get("usage")
        if usage:
            data["usage"] = {
                "input_tokens": usage.get("input_tokens", usage.get("prompt_tokens")),
                "output_tokens": usage.get("output_tokens", usage.get("completion_tokens")),
                "total_tokens": usage.get("total_tokens"),
            }
        if finish is not None:
            data["finish_reason"] = finish
        if model:
            data["response_model"] = model
        return data

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a failed model call."""
        self._error("llm", run_id, error)

    def _error(self, kind: str, run_id: UUID, error: BaseException) -> None:
        state = self.runs.pop(run_id)
        if state is None:
            return
        try:
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
            self._guard_failed(f"on_{kind}_error", failure)

    # -- tools -------------------------------------------------------------------------------------
    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a tool call with its name, input and tool call id."""
        try:
            name = _name(serialized, kwargs, "tool")
            state = self._start(run_id, parent_run_id, "tool", name, metadata)
            level = self.levels["tool"]
            if not self._log.isEnabledFor(level):
                return
            data: dict[str, Any] = {"tool": name, "tool_call_id": kwargs.get("tool_call_id")}
            if self.log_prompts:
                data["input"] = self._body(inputs if inputs is not None else input_str)
            self._emit(level, state, "agent.tool.start", f"tool {name} started", data)
        except Exception as error:
            self._guard_failed("on_tool_start", error)

    def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a tool's output."""
        state = self.runs.pop(run_id)
        if state is None:
            return
        try:
            level = self.levels["tool"]
            if not self._log.isEnabledFor(level):
                return
            status = getattr(output, "status", None) or "ok"
            data: dict[str, Any] = {
                "tool": state.name,
                "status": "ok" if status == "success" else status,
            }
            if self.log_outputs:
                content = output.content if isinstance(output, BaseMessage) else output
                data["output"] = self._body(content)
            self._emit(
                level, state, "agent.tool.end", f"tool {state.name} ended", data, duration=True
            )
        except Exception as error:
            self._guard_failed("on_tool_end", error)

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a failed tool call."""
        self._error("tool", run_id, error)

    # -- retrievers --------------------------------------------------------------------------------
    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a retrieval with its query."""
        try:
            name = _name(serialized, kwargs, "retriever")
            state = self._start(run_id, parent_run_id, "retriever", name, metadata)
            level = self.levels["retriever"]
            data = {"query": self._body(query)} if self.log_prompts else {}
            self._emit(level, state, "agent.retriever.start", f"retriever {name} started", data)
        except Exception as error:
            self._guard_failed("on_retriever_start", error)

    def on_retriever_end(
        self,
        documents: Sequence[Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Log how many documents a retrieval found, their ids and (optionally) their content."""
        state = self.runs.pop(run_id)
        if state is None:
            return
        try:
            level = self.levels["retriever"]
            if not self._log.isEnabledFor(level):
                return
            data: dict[str, Any] = {
                "status": "ok",
                "document_count": len(documents),
                "document_ids": [getattr(doc, "id", None) for doc in documents],
            }
            if self.log_outputs:
                data["documents"] = [document_dict(doc, self.max_body_chars) for doc in documents]
            self._emit(
                level,
                state,
                "agent.retriever.end",
                f"retriever {state.name} ended",
                data,
                duration=True,
            )
        except Exception as error:
            self._guard_failed("on_retriever_end", error)

    def on_retriever_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Log a failed retrieval."""
        self._error("retriever", run_id, error)

    # -- custom events, interrupts and resumes -----------------------------------------------------
    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log an event sent with ``dispatch_custom_event`` under the run that sent it."""
        try:
            level = self.levels["custom"]
            if not self._log.isEnabledFor(level):
                return
            state = self.runs.get(run_id)
            if state is None:  # sent outside any run we saw: a one-off run of its own
                state = self._start(run_id, None, "custom", name, metadata)
                self.runs.pop(run_id)
            self._emit(
                level,
                state,
                "agent.custom",
                f"custom event {name}",
                {"name": name, "payload": self._body(data)},
            )
        except Exception as error:
            self._guard_failed("on_custom_event", error)

    def on_interrupt(self, event: GraphInterruptEvent) -> None:
        """Log a graph pausing on interrupts (human in the loop)."""
        self._lifecycle("agent.interrupt", "graph interrupted", event, event.interrupts)

    def on_resume(self, event: GraphResumeEvent) -> None:
        """Log a graph resuming from a checkpoint."""
        self._lifecycle("agent.resume", "graph resumed", event, None)

    def _lifecycle(
        self,
        name: str,
        message: str,
        event: GraphInterruptEvent | GraphResumeEvent,
        interrupts: Any,
    ) -> None:
        try:
            level = self.levels["interrupt"]
            if not self._log.isEnabledFor(level):
                return
            state = self.runs.get(event.run_id)
            if state is None:
                return
            data: dict[str, Any] = {
                "status": event.status,
                "checkpoint_id": event.checkpoint_id,
                "checkpoint_ns": list(event.checkpoint_ns),
            }
            if interrupts is not None:
                data["interrupts"] = self._body(list(interrupts))
            self._emit(level, state, name, message, data)
        except Exception as error:
            self._guard_failed(name, error)


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


def _route_maps(graph: Any) -> dict[tuple[str, str], dict[Any, str]]:
    """``(source node, path function name) -> {label: node}`` of a compiled graph's branches."""
    maps: dict[tuple[str, str], dict[Any, str]] = {}
    try:
        branches = graph.builder.branches
        for source, specs in branches.items():
            for edge, spec in specs.items():
                if spec.ends:
                    maps[(str(source), str(edge))] = dict(spec.ends)
    except Exception:  # a graph of another shape: labels stay the targets
        return {}
    return maps
