"""Request-scoped helpers for FastAPI dependencies: the correlation id, a request-bound logger."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from agent_tracing import BoundLogger, get_logger

__all__ = ["get_correlation_id", "logger_for_request"]


def get_correlation_id(request: HTTPConnection) -> str | None:
    """Return the request's correlation id (``request.state.correlation_id``), a dependency."""
    value = request.scope.get("state", {}).get("correlation_id")
    return value if isinstance(value, str) else None


def logger_for_request(
    request: HTTPConnection, name: str = "app", component: str | None = None
) -> BoundLogger:
    """Return a logger bound to the request: its correlation id and, once known, its user id.

    Lines from it carry the request's id even from code that runs outside the request's context
    (a thread started without a copied context). The user id comes from
    ``request.state.user_id`` when authentication has already run; lines logged inside the
    handler carry the user id that authentication bound in the context anyway.

    Args:
        request: The request (or WebSocket) being served.
        name: The logger name.
        component: The ``component`` of its lines.
    """
    state = request.scope.get("state", {})
    fields: dict[str, Any] = {}
    correlation_id = state.get("correlation_id")
    if correlation_id is not None:
        fields["correlation_id"] = correlation_id
    user_id = state.get("user_id")
    if user_id is not None:
        fields["user_id"] = user_id
    if component is not None:
        fields["component"] = component
    logger = get_logger(name)
    return logger.bind(**fields) if fields else logger
