"""FastAPI / Starlette integration: request spans, correlation ids, request loggers, uvicorn logs.

``app.add_middleware(RequestLoggingMiddleware)`` makes every HTTP request (and WebSocket connection)
one :class:`~agent_tracing.Span` of kind ``http.request``: the correlation id is read from the
request header (or made), validated, bound for the whole request (async and sync endpoints,
dependencies, background tasks, streaming), stored in ``request.state.correlation_id`` and
returned in the response header. The start line carries the request (method, path, redacted query
and headers, client, user agent), the end line the outcome (status code, duration, response size,
the authenticated user id) at a level that follows the status.

:func:`configure_uvicorn_logging` / :func:`uvicorn_log_config` route uvicorn's own loggers through
the handlers :func:`agent_tracing.configure_logging` installed, once each, in the same schema.
:func:`get_correlation_id` and :func:`logger_for_request` serve FastAPI dependencies.

Modules: ``correlation`` (id validation), ``middleware``, ``dependencies``, ``uvicorn``.
"""

from agent_tracing.fastapi.correlation import (
    DEFAULT_CORRELATION_HEADERS,
    MAX_CORRELATION_ID_LENGTH,
    is_valid_correlation_id,
)
from agent_tracing.fastapi.dependencies import get_correlation_id, logger_for_request
from agent_tracing.fastapi.middleware import DEFAULT_REDACTED_HEADERS, RequestLoggingMiddleware
from agent_tracing.fastapi.uvicorn import (
    LoggedExceptionFilter,
    configure_uvicorn_logging,
    uvicorn_log_config,
)

__all__ = [
    "DEFAULT_CORRELATION_HEADERS",
    "DEFAULT_REDACTED_HEADERS",
    "MAX_CORRELATION_ID_LENGTH",
    "LoggedExceptionFilter",
    "RequestLoggingMiddleware",
    "configure_uvicorn_logging",
    "get_correlation_id",
    "is_valid_correlation_id",
    "logger_for_request",
    "uvicorn_log_config",
]
