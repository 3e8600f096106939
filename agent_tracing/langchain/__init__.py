"""LangChain / LangGraph integration: ``LoggingCallback`` logs agent runs as structured events.

``graph.invoke(state, config={"callbacks": [LoggingCallback()]})``: the graph, its nodes, routing
decisions, model calls, tools and retrievers each become a span in the same tree as the request or
task that ran the graph, with the correlation/user/strategy/backtest ids bound around the call.
"""

from agent_tracing.langchain.callback import DEFAULT_LEVELS, LoggingCallback
from agent_tracing.langchain.runs import RunMap, RunState
from agent_tracing.langchain.serialize import document_dict, message_dict, to_loggable

__all__ = [
    "DEFAULT_LEVELS",
    "LoggingCallback",
    "RunMap",
    "RunState",
    "document_dict",
    "message_dict",
    "to_loggable",
]
