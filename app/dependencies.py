"""FastAPI dependencies shared by the routers: a logger bound to the request, its correlation id.

```python
from app.dependencies import RequestLogger

@router.get("/strategies/{strategy_id}")
async def read_strategy(strategy_id: int, log: RequestLogger) -> dict[str, int]:
    log.info("Strategy read", strategy_id=strategy_id)
    ...
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from agent_tracing import BoundLogger
from agent_tracing.fastapi import get_correlation_id, logger_for_request

__all__ = [
    "CorrelationId",
    "RequestLogger",
    "get_request_logger",
    "request_logger",
]


def get_request_logger(request: Request) -> BoundLogger:
    """Return the ``app.api`` logger bound to this request's correlation id and user id."""
    return logger_for_request(request, "app.api")


def request_logger(name: str, component: str | None = None) -> Callable[[Request], BoundLogger]:
    """Return a dependency giving the logger ``name`` bound to the request, e.g.
    ``log: Annotated[BoundLogger, Depends(request_logger(__name__, "StrategiesRouter"))]``."""

    def dependency(request: Request) -> BoundLogger:
        return logger_for_request(request, name, component)

    return dependency


#: ``log: RequestLogger`` in a route or dependency signature.
RequestLogger = Annotated[BoundLogger, Depends(get_request_logger)]
#: ``correlation_id: CorrelationId`` in a route or dependency signature.
CorrelationId = Annotated[str | None, Depends(get_correlation_id)]
