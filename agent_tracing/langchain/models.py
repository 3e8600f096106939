"""Model events of ``LoggingCallback``: prompts and parameters, outputs, usage, errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from agent_tracing.langchain.base import HandlerBase, run_name
from agent_tracing.langchain.serialize import message_dict, tool_call_dict

__all__ = ["ModelEvents"]

# Invocation parameters worth a line; anything else (keys, clients, headers) is never read.
_PARAMS = ("model", "model_name", "temperature", "max_tokens", "top_p", "top_k", "stop")
_KEPT_PARAMS = _PARAMS[2:]


class ModelEvents(HandlerBase):
    """``on_chat_model_start``, ``on_llm_*``: one start and one end (or error) per model call."""

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
            name = run_name(serialized, kwargs, "chat_model")
            state = self._start(
                run_id, self.runs.get(parent_run_id), parent_run_id, "llm", name, metadata
            )
            level = self.levels["llm"]
            if not self._enabled(level):
                return
            data = self._model_data(name, kwargs, metadata)
            if self.log_prompts:
                limit = self.max_body_chars
                batches = [[message_dict(m, limit) for m in batch] for batch in messages]
                data["messages"] = batches[0] if len(batches) == 1 else batches
            self._line(level, state, "agent.llm.start", f"llm {name} started", data)
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
            name = run_name(serialized, kwargs, "llm")
            state = self._start(
                run_id, self.runs.get(parent_run_id), parent_run_id, "llm", name, metadata
            )
            level = self.levels["llm"]
            if not self._enabled(level):
                return
            data = self._model_data(name, kwargs, metadata)
            if self.log_prompts:
                data["prompts"] = self._body(prompts)
            self._line(level, state, "agent.llm.start", f"llm {name} started", data)
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
        kept = {k: params[k] for k in _KEPT_PARAMS if params.get(k) is not None}
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
            if not self._enabled(level):
                return
            data = self._llm_output(response)
            if self.stream_tokens and state.tokens:
                data["stream"] = {"tokens": state.tokens, "first_token_ms": state.first_token_ms}
            self._line(
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
