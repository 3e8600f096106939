"""Strategy routes: create one from a prompt (the agents draft it and write its code), read one.

``POST /strategies`` stores a draft strategy (``strategy_id`` is bound from then on), runs the
drafting agent and the code agent with ``LoggingCallback`` (every node, model and tool call is a
line of the request), and stores the code. When an agent fails (a tool error, no valid code) the
strategy is marked failed and the client gets 502 with the strategy's id.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from langchain_core.messages import HumanMessage

import agent_tracing as at
from agent_tracing.langchain import LoggingCallback
from app.agents.strategy.graph_strategy_code import generate_strategy_code
from app.agents.strategy.graph_strategy_draft import get_strategy_draft_graph
from app.api.routers.schemas import StrategyIn, StrategyOut
from app.db.services import StrategiesService
from app.db.utils.decorators import require_user
from app.util.logger import setup_logger

__all__ = ["router"]

router = APIRouter(prefix="/strategies", tags=["strategies"])
log = setup_logger("api.routers.strategies", component="StrategiesRouter")


def _draft(prompt: str) -> dict[str, Any]:
    state = get_strategy_draft_graph().invoke(
        {"messages": [HumanMessage(prompt)], "request": prompt},
        config={"callbacks": [LoggingCallback()]},
    )
    draft = state.get("draft")
    return draft if isinstance(draft, dict) else {"text": json.dumps(draft)}


@router.post("", status_code=201, response_model=StrategyOut)
@require_user
def create_strategy(request: Request, body: StrategyIn) -> StrategyOut:
    """Create a strategy from ``prompt``: drafted and coded by the agents, then stored ready."""
    user_id: str = request.state.user_id
    strategies = StrategiesService()
    strategy = strategies.create_strategy(user_id, body.prompt, body.name)
    with at.bind(strategy_id=strategy.id):
        try:
            draft = _draft(body.prompt)
            generated = generate_strategy_code(body.prompt, callbacks=[LoggingCallback()])
        except Exception as exc:
            log.exception(
                "Strategy generation failed",
                event="strategy.generation_failed",
                data={"error_type": type(exc).__name__},
            )
            strategies.mark_failed(strategy.id, f"{type(exc).__name__}: {exc}")
            raise HTTPException(
                status_code=502,
                detail={"message": "strategy generation failed", "strategy_id": strategy.id},
            ) from None
        stored = strategies.save_code(strategy.id, generated.code, generated.class_name)
        return StrategyOut.of(stored, draft=draft)


@router.get("/{strategy_id}", response_model=StrategyOut)
@require_user
def read_strategy(request: Request, strategy_id: int) -> StrategyOut:
    """The user's strategy ``strategy_id`` (404 if it is not theirs)."""
    with at.bind(strategy_id=strategy_id):
        return StrategyOut.of(StrategiesService().get_strategy(strategy_id, request.state.user_id))
