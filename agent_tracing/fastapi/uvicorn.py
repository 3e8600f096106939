"""uvicorn's loggers through our handlers: once each, in the schema, with the request's context.

uvicorn's default log config gives its loggers text handlers of their own; with ours on the root as
well, each line would be written twice and not in the schema. :func:`configure_uvicorn_logging`
(imperative) and :func:`uvicorn_log_config` (a ``dictConfig`` mapping for ``log_config=`` or
``--log-config``) remove those handlers and let the records propagate to the root.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = [
    "LoggedExceptionFilter",
    "configure_uvicorn_logging",
    "mark_logged",
    "uvicorn_log_config",
]

_LOGGED = "_agent_tracing_logged"  # set on an exception the middleware has logged


def mark_logged(exc: BaseException) -> None:
    """Mark ``exc`` as logged, so :class:`LoggedExceptionFilter` drops a later copy of it."""
    try:
        setattr(exc, _LOGGED, True)
    except Exception:  # pragma: no cover - an exception type that refuses attributes
        pass


def _was_logged(exc: BaseException | None) -> bool:
    if exc is None:
        return False
    if getattr(exc, _LOGGED, False):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_was_logged(inner) for inner in exc.exceptions)
    return False


class LoggedExceptionFilter(logging.Filter):
    """Drop a record whose exception the middleware already logged (uvicorn's
    ``Exception in ASGI application`` for it), so each traceback is written once."""

    def filter(self, record: logging.LogRecord) -> bool:
        info = record.exc_info
        return not (info and _was_logged(info[1]))


_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def uvicorn_log_config(*, access_log: bool = False, level: str = "INFO") -> dict[str, Any]:
    """Return a ``logging.config.dictConfig`` mapping for ``uvicorn.run(log_config=...)`` or
    ``--log-config`` (as a JSON file) that sends uvicorn's loggers to the root handlers.

    uvicorn's loggers get no handlers of their own and propagate to the root, where
    :func:`agent_tracing.configure_logging` installed ours: each line is written once, in the
    schema, with the context of the request it belongs to. ``Exception in ASGI application`` is
    dropped when the middleware already logged that exception.

    Args:
        access_log: Keep uvicorn's access line (one per response, logged inside the request, so it
            carries the correlation id). Off by default: ``http.request.end`` says the same and
            more (duration, size, user).
        level: Level of uvicorn's loggers.
    """
    loggers: dict[str, Any] = {
        "uvicorn": {"handlers": [], "level": level, "propagate": True},
        "uvicorn.error": {
            "handlers": [],
            "level": level,
            "propagate": True,
            "filters": ["agent_tracing_logged_exception"],
        },
        "uvicorn.asgi": {"handlers": [], "level": level, "propagate": True},
        "uvicorn.access": (
            {"handlers": [], "level": level, "propagate": True}
            if access_log
            else {"handlers": [], "level": "WARNING", "propagate": False}
        ),
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "agent_tracing_logged_exception": {"()": "agent_tracing.fastapi.LoggedExceptionFilter"}
        },
        "loggers": loggers,
    }


def configure_uvicorn_logging(*, access_log: bool = False, level: str | None = None) -> None:
    """Apply :func:`uvicorn_log_config` to the running process (idempotent).

    Call it after uvicorn configured its logging (at application import or start-up, as
    ``create_app`` does), so ``uvicorn app.main:app`` needs no ``--log-config``: uvicorn's own
    handlers are removed and its records go to the root handlers. ``level`` None keeps the levels
    uvicorn set (``--log-level``).
    """
    for name in _UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        if level is not None:
            logger.setLevel(level)
        logger.propagate = True
        if name == "uvicorn.error" and not any(
            isinstance(f, LoggedExceptionFilter) for f in logger.filters
        ):
            logger.addFilter(LoggedExceptionFilter())
    access = logging.getLogger("uvicorn.access")
    if not access_log:
        access.propagate = False  # uvicorn checks hasHandlers(): no access line is even built
    elif access.level > logging.INFO:
        access.setLevel(logging.INFO)
