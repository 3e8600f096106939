"""Model selection: the scripted model by default, a provider by configuration."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from app.agents.models import MODEL_ENV, ScriptedChatModel, get_chat_model


def test_scripted_model_is_the_default_and_reports_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without configuration the scripted model answers with usage and a finish reason."""
    monkeypatch.delenv(MODEL_ENV, raising=False)
    model = get_chat_model(lambda messages: AIMessage(content="hello there"))
    assert isinstance(model, ScriptedChatModel)
    answer = model.invoke([HumanMessage("hi")])
    assert answer.content == "hello there"
    assert answer.usage_metadata == {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    assert answer.response_metadata["finish_reason"] == "stop"


def test_a_provider_needs_its_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured provider without the langchain package fails with what to install."""
    monkeypatch.setenv(MODEL_ENV, "openai:gpt-4o-mini")
    try:
        import langchain.chat_models  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="pip install langchain"):
            get_chat_model(lambda messages: AIMessage(content=""))
    else:  # pragma: no cover - only where langchain is installed
        pytest.skip("langchain is installed here; provider selection needs credentials")
