"""``LoggingCallback``: every LangChain / LangGraph run as structured events in the span tree.

The handler is composed of the event mixins (:mod:`.chains`, :mod:`.models`, :mod:`.tools`) over
the shared plumbing (:mod:`.base`: options, the run map, writing a line).
"""

from __future__ import annotations

from agent_tracing.langchain.base import DEFAULT_LEVELS
from agent_tracing.langchain.chains import ChainEvents
from agent_tracing.langchain.models import ModelEvents
from agent_tracing.langchain.tools import ToolEvents

__all__ = ["DEFAULT_LEVELS", "LoggingCallback"]


class LoggingCallback(ChainEvents, ModelEvents, ToolEvents):
    """Log a LangChain / LangGraph run as structured JSON events (see the module docstring).

    Usage: ``graph.invoke(state, config={"callbacks": [LoggingCallback()]})``, or
    ``callbacks=[LoggingCallback()]`` wherever LangChain takes callbacks. One instance may serve
    many concurrent runs: its state is kept per run id behind a lock and dropped at each run's end.

    Options (keyword-only): ``logger``, ``component``, ``log_prompts``, ``log_outputs``,
    ``max_body_chars``, ``levels``, ``stream_tokens``, ``graph`` (see
    :meth:`~agent_tracing.langchain.base.HandlerBase.__init__`).
    """
