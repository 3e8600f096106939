"""The project's API: the library's middleware, one route that thinks and hands off to Celery."""

import logging
from typing import Any

import agent_tracing as at
from agent_tracing.fastapi import RequestLoggingMiddleware, configure_uvicorn_logging
from agent_tracing.langchain import LoggingCallback
from fastapi import FastAPI

import app.logs  # configures logging, once, at import (before anything logs)
from app.graph import graph
from app.tasks import notify

configure_uvicorn_logging(access_log=True)
app = FastAPI()
app.add_middleware(RequestLoggingMiddleware, skip_paths=["/health"])
callback = LoggingCallback()
log = at.get_logger("app.main")
audit = logging.getLogger("app.audit")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/trade/{user_id}")
async def trade(user_id: str) -> dict[str, Any]:
    audit.info("Trade requested", extra={"user_id": user_id, "data": {"route": "trade"}})
    with at.bind(user_id=user_id):
        log.info("Trade asked", event="trial.trade")
        state = await graph.ainvoke(
            {"messages": [("user", "Should I buy?")]}, config={"callbacks": [callback]}
        )
        notify.delay(state["decision"], user_id)
    return {"decision": state["decision"], "module": __file__}
