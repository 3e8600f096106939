"""Chat models for the agents: a scripted deterministic model by default, a real one if configured.

The scripted model is langchain-core's ``FakeMessagesListChatModel`` whose answer is computed by a
script from the conversation (not cycled from a list), with token usage, a finish reason and a
model name like a provider's, so the agents and their logs run offline and the same every time.

A real provider is chosen with ``GENTRADE_AGENT_MODEL=<provider>:<model>`` (for example
``openai:gpt-4o-mini`` or ``anthropic:claude-sonnet-4-5``); this needs the ``langchain`` package
(``init_chat_model``) and the provider's integration package and credentials, none of which the
tests use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

__all__ = ["MODEL_ENV", "Script", "ScriptedChatModel", "get_chat_model"]

#: Environment variable naming the chat model: ``scripted`` (default) or ``<provider>:<model>``.
MODEL_ENV = "GENTRADE_AGENT_MODEL"

Script = Callable[[Sequence[BaseMessage]], AIMessage]
"""Computes the model's answer from the conversation so far."""


def _words(value: Any) -> int:
    text = value if isinstance(value, str) else str(value)
    return max(1, len(text.split()))


class ScriptedChatModel(FakeMessagesListChatModel):
    """A fake chat model whose answer is ``script(messages)``: deterministic, offline.

    Attributes:
        script: The function that writes the answer (content and/or tool calls).
        model_name: Reported as the response's model name.
        temperature: Reported in the invocation parameters, like a provider's model.
    """

    script: Script
    model_name: str = "gentrade-scripted-1"
    temperature: float = 0.0
    responses: list[BaseMessage] = []

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        answer = self.script(messages)
        prompt_tokens = sum(_words(m.content) for m in messages)
        output_tokens = _words(answer.content) + sum(_words(c["args"]) for c in answer.tool_calls)
        message = AIMessage(
            content=answer.content,
            tool_calls=answer.tool_calls,
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": "tool_calls" if answer.tool_calls else "stop",
            },
            usage_metadata={
                "input_tokens": prompt_tokens,
                "output_tokens": output_tokens,
                "total_tokens": prompt_tokens + output_tokens,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    @property
    def _llm_type(self) -> str:
        return "gentrade-scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        """Accept tools like a provider's model; the script decides which ones it calls."""
        return self


def get_chat_model(script: Script, *, spec: str | None = None) -> BaseChatModel:
    """Return the agents' chat model: the scripted one unless configured otherwise.

    Args:
        script: The scripted model's answers (used when the model is ``scripted``).
        spec: ``scripted`` or ``<provider>:<model>``; default ``$GENTRADE_AGENT_MODEL``, else
            ``scripted``.

    Raises:
        RuntimeError: A provider is configured but ``langchain`` (``init_chat_model``) is missing.
    """
    chosen = (spec or os.environ.get(MODEL_ENV) or "scripted").strip()
    if chosen == "scripted":
        return ScriptedChatModel(script=script)
    try:
        from langchain.chat_models import init_chat_model  # type: ignore[import-not-found]
    except ImportError as error:
        raise RuntimeError(
            f"{MODEL_ENV}={chosen!r} needs the 'langchain' package and the provider's integration "
            "(e.g. pip install langchain langchain-openai)"
        ) from error
    model: BaseChatModel = init_chat_model(chosen, temperature=0)
    return model
