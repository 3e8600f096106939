"""Tool, retriever, custom, interrupt and resume events of ``LoggingCallback``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage
from langgraph.callbacks import GraphInterruptEvent, GraphResumeEvent

from agent_tracing.langchain.base import HandlerBase, run_name
from agent_tracing.langchain.serialize import document_dict

__all__ = ["ToolEvents"]


class ToolEvents(HandlerBase):
    """``on_tool_*``, ``on_retriever_*``, ``on_custom_event``, ``on_interrupt``, ``on_resume``."""

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
            name = run_name(serialized, kwargs, "tool")
            state = self._start(
                run_id, self.runs.get(parent_run_id), parent_run_id, "tool", name, metadata
            )
            level = self.levels["tool"]
            if not self._enabled(level):
                return
            data: dict[str, Any] = {"tool": name, "tool_call_id": kwargs.get("tool_call_id")}
            if self.log_prompts:
                data["input"] = self._body(inputs if inputs is not None else input_str)
            self._line(level, state, "agent.tool.start", f"tool {name} started", data)
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
            if not self._enabled(level):
                return
            status = getattr(output, "status", None) or "ok"
            data: dict[str, Any] = {
                "tool": state.name,
                "status": "ok" if status == "success" else status,
            }
            if self.log_outputs:
                content = output.content if isinstance(output, BaseMessage) else output
                data["output"] = self._body(content)
            self._line(
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
            name = run_name(serialized, kwargs, "retriever")
            state = self._start(
                run_id, self.runs.get(parent_run_id), parent_run_id, "retriever", name, metadata
            )
            level = self.levels["retriever"]
            if not self._enabled(level):
                return
            data = {"query": self._body(query)} if self.log_prompts else {}
            self._line(level, state, "agent.retriever.start", f"retriever {name} started", data)
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
            if not self._enabled(level):
                return
            data: dict[str, Any] = {
                "status": "ok",
                "document_count": len(documents),
                "document_ids": [getattr(doc, "id", None) for doc in documents],
            }
            if self.log_outputs:
                data["documents"] = [document_dict(doc, self.max_body_chars) for doc in documents]
            self._line(
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
            if not self._enabled(level):
                return
            state = self.runs.get(run_id)
            if state is None:  # sent outside any run we saw: a one-off run of its own
                state = self._start(run_id, None, None, "custom", name, metadata)
                self.runs.pop(run_id)
            self._line(
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
            if not self._enabled(level):
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
            self._line(level, state, name, message, data)
        except Exception as error:
            self._guard_failed(name, error)
