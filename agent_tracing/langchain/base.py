"""The plumbing of ``LoggingCallback``: options, the run map, and one place that writes a line.

Each run (the graph, a node, a model call, a tool, a retriever, a chain) gets its own span id; the
root run's parent span is the span enclosing the call (the HTTP request, the task), a child run's
parent span is its parent run's span. Lines carry the context fields read once at the root's start
and the span fields of their run, passed per line: the handler never sets a context variable (one
set in a callback under ``invoke`` would leak into the caller after the run).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from time import perf_counter
from typing import Any
from uuid import UUID

from langgraph.callbacks import GraphCallbackHandler

from agent_tracing import BoundLogger, get_context_value, get_logger, new_span_id
from agent_tracing import schema as _schema
from agent_tracing.langchain.runs import RunMap, RunState
from agent_tracing.langchain.serialize import to_loggable

__all__ = [
    "DEFAULT_LEVELS",
    "HandlerBase",
    "level_number",
    "route_maps",
    "run_name",
    "user_metadata",
]

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
_BODY_KINDS = frozenset(("llm", "tool", "retriever"))
_INTERNAL_METADATA = ("langgraph_", "ls_", "checkpoint_", "thread_id", "__")


def level_number(value: int | str) -> int:
    """A level given as a number or a name (``"DEBUG"``) as a number; ``ValueError`` if unknown."""
    if isinstance(value, int):
        return value
    level = logging.getLevelName(value.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown level {value!r}")
    return level


def run_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    """The run's name: the ``name`` LangChain passes, else the serialised name or class path."""
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


def user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The caller's run metadata, without the keys LangChain and LangGraph add themselves."""
    if not metadata:
        return None
    kept = {k: v for k, v in metadata.items() if not k.startswith(_INTERNAL_METADATA)}
    return kept or None


class HandlerBase(GraphCallbackHandler):
    """Options, the run map and the emitting of lines shared by the event mixins."""

    raise_error = False
    # Inline under ainvoke: no executor hop per event; the handler only formats and writes a line.
    run_inline = True
    # LangChain reads ``ignore_<kind>`` before each event: plain attributes, not the base class's
    # properties (a call per event). This handler ignores nothing.
    ignore_llm = False
    ignore_retry = False
    ignore_chain = False
    ignore_agent = False
    ignore_retriever = False
    ignore_chat_model = False
    ignore_custom_event = False

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
        """Configure the handler (see :class:`~agent_tracing.langchain.LoggingCallback`).

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
            stream_tokens: Count streamed tokens and the time to the first one, reported on the
                model's end event (one line per call, never one per token).
            graph: A compiled graph whose conditional edges map labels to other node names, so
                route decisions name their target nodes (without it, targets are the labels).
        """
        if isinstance(logger, BoundLogger):
            self._log = logger
        elif isinstance(logger, logging.Logger):
            self._log = BoundLogger(logger)
        else:
            self._log = get_logger(logger or "agent_tracing.langchain")
        # The stdlib logger's own check: one call per event instead of two through BoundLogger.
        self._enabled = self._log.logger.isEnabledFor
        self.component = component
        self.log_prompts = log_prompts
        self.log_outputs = log_outputs
        self.max_body_chars = max_body_chars
        self.stream_tokens = stream_tokens
        self.levels: dict[str, int] = dict(DEFAULT_LEVELS)
        for kind, value in (levels or {}).items():
            if kind not in DEFAULT_LEVELS:
                raise ValueError(f"unknown event kind {kind!r}; one of {sorted(DEFAULT_LEVELS)}")
            self.levels[kind] = level_number(value)
        self.runs = RunMap()
        self._route_maps = route_maps(graph) if graph is not None else {}
        self._failed: set[str] = set()
        self._failed_lock = threading.Lock()

    def _start(
        self,
        run_id: UUID,
        parent: RunState | None,
        parent_run_id: UUID | None,
        kind: str,
        name: str,
        metadata: Mapping[str, Any] | None,
    ) -> RunState:
        """Remember a run starting under ``parent`` (its state, ``None`` at the root)."""
        node = metadata.get("langgraph_node") if metadata else None
        if parent is None:
            fields: dict[str, Any] = {}
            for key in ("correlation_id", *_schema.declared_fields()):
                value = get_context_value(key)
                if value is not None:
                    fields[key] = value
            fields["component"] = self.component or name
            run = str(run_id)
            state = RunState(
                run,
                str(parent_run_id) if parent_run_id else None,
                run,
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
            if kind in _BODY_KINDS:
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
        """Write a line if ``level`` is enabled (see :meth:`_line`)."""
        if self._enabled(level):
            self._line(level, state, event, message, data, exc, duration)

    def _line(
        self,
        level: int,
        state: RunState,
        event: str,
        message: str,
        data: dict[str, Any],
        exc: BaseException | None = None,
        duration: bool = False,
    ) -> None:
        """Write a line of ``state``'s run: its ids, ``data``, its span and context fields (the
        caller has checked that ``level`` is enabled, before building ``data``)."""
        # The run's ids come first in ``data``, then the duration, then the event's own keys; the
        # ids (and the ``extra`` below) are built at the run's first line and reused after.
        head = state.head
        if head is None:
            head = state.head = {
                "run_id": state.run_id,
                "parent_run_id": state.parent_run_id,
                "root_run_id": state.root_run_id,
                "depth": state.depth,
            }
            if state.node is not None:
                head["langgraph_node"] = state.node
        if duration:
            duration_ms = round((perf_counter() - state.started) * 1000, 3)
            payload = {**head, "duration_ms": duration_ms, **data}
        else:
            payload = {**head, **data}
        # The context and span fields as one ``extra`` of schema fields only: the core takes it
        # as the line's fields without merging keyword arguments into it.
        extra = state.extra
        if extra is None:
            extra = state.extra = {
                "span_id": state.span_id,
                "parent_span_id": state.parent_span_id,
                **state.fields,
            }
        self._log.log(level, message, data=payload, event=event, exc_info=exc, extra=extra)

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


def route_maps(graph: Any) -> dict[tuple[str, str], dict[Any, str]]:
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
