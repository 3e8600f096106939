"""GenTrade agents: a router agent, a strategy drafting agent and a strategy code agent (LangGraph).

Each graph is a plain compiled LangGraph graph: run it with ``LoggingCallback`` from
``agent_tracing.langchain`` in its ``callbacks`` to log every step as structured events.
"""
