"""The GenTrade API: ``create_app()`` and the module-level ``app`` uvicorn serves.

Logging is configured when the app is created (so under ``uvicorn app.main:app`` it is in place
before the server's first line) and the request-logging middleware is always installed::

    uvicorn app.main:app --host 127.0.0.1 --port 8000      # uvicorn's lines come out in our schema
    python -m app.main                                     # the same, with our uvicorn log config

Environment: the ``AGENT_TRACING_*`` variables of ``configure_logging``; ``APP_EXAMPLE_ROUTES=1``
mounts the example endpoints under ``/_examples``; ``APP_ACCESS_LOG=1`` keeps uvicorn's access
line (off: ``http.request.end`` says the same and more); ``APP_HOST`` / ``APP_PORT`` for
``python -m app.main``.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import agent_tracing as at
from agent_tracing.fastapi import (
    RequestLoggingMiddleware,
    configure_uvicorn_logging,
    uvicorn_log_config,
)
from app.api.routers import backtests, health, strategies
from app.db.services import ServiceError
from app.settings import get_settings

__all__ = ["app", "create_app", "main"]

#: Request paths whose start and end lines are not written (their failures still are).
UNLOGGED_PATHS = ("/health",)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    # A refused request (no such row, wrong state): the service span logged it already.
    status = exc.http_status if isinstance(exc, ServiceError) else 400
    return JSONResponse({"detail": str(exc)}, status_code=status)


def create_app(
    *,
    setup_logging: bool = True,
    example_routes: bool | None = None,
    access_log: bool | None = None,
) -> FastAPI:
    """Create the API with logging configured and the request-logging middleware installed.

    Args:
        setup_logging: Run ``configure_logging()`` (the settings' log levels, then the
            ``AGENT_TRACING_*`` environment) and
            route uvicorn's loggers through it. Off for a caller that configured logging itself.
        example_routes: Mount the example endpoints under ``/_examples`` (default:
            ``APP_EXAMPLE_ROUTES``).
        access_log: Keep uvicorn's access line (default: ``APP_ACCESS_LOG``, off).
    """
    if setup_logging:
        at.configure_logging(**get_settings().logging_options())
        configure_uvicorn_logging(
            access_log=_env_flag("APP_ACCESS_LOG") if access_log is None else access_log
        )
    app = FastAPI(title="GenTrade API")
    app.add_middleware(RequestLoggingMiddleware, skip_paths=UNLOGGED_PATHS, logger="app.http")
    app.add_exception_handler(ServiceError, _service_error)
    app.include_router(health.router)
    app.include_router(strategies.router)
    app.include_router(backtests.router)
    if _env_flag("APP_EXAMPLE_ROUTES") if example_routes is None else example_routes:
        from app.api.routers import _examples

        app.include_router(_examples.router, prefix="/_examples")
    return app


app = create_app()


def main() -> None:
    """Serve ``app`` with uvicorn on ``APP_HOST``:``APP_PORT`` (127.0.0.1:8000), logs in ours."""
    import uvicorn

    uvicorn.run(
        "app.main:app",
        host=os.environ.get("APP_HOST", "127.0.0.1"),
        port=int(os.environ.get("APP_PORT", "8000")),
        log_config=uvicorn_log_config(access_log=_env_flag("APP_ACCESS_LOG")),
    )


if __name__ == "__main__":
    main()
