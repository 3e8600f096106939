"""Handlers that run in the worker's main process, where no task context is bound: the lines
for a revoked task, a rejected message, an unknown task (and, from :mod:`lifecycle`, a pool child
lost mid-task) take the publisher's context from the request's or the message's headers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from agent_tracing.celery.headers import context_from_headers
from agent_tracing.celery.options import log, reason_text, report
from agent_tracing.context import replace_contextvars, reset_contextvars

__all__ = ["log_with_headers", "on_task_rejected", "on_task_revoked", "on_task_unknown"]


def log_with_headers(
    level: int,
    message: str,
    *args: Any,
    event: str,
    carrier: Any,
    data: Mapping[str, Any],
    exc_info: Any = None,
) -> None:
    carried = context_from_headers(carrier) if carrier is not None else {}
    token = replace_contextvars(carried)
    try:
        log.log(level, message, *args, event=event, data=data, exc_info=exc_info)
    finally:
        reset_contextvars(token)


def on_task_revoked(
    sender: Any = None,
    request: Any = None,
    terminated: Any = None,
    signum: Any = None,
    expired: Any = None,
    **_: Any,
) -> None:
    """Log ``task.revoked`` (by request, expired or terminated) with the publisher's context."""
    try:
        name = getattr(sender, "name", None)
        data = {
            "task": name,
            "task_id": getattr(request, "id", None),
            "terminated": bool(terminated),
            "signum": signum,
            "expired": bool(expired),
        }
        log_with_headers(
            logging.WARNING,
            "Task %s revoked",
            name,
            event="task.revoked",
            carrier=request,
            data=data,
        )
    except Exception as error:
        report("task_revoked", error)


def _message_headers(message: Any) -> Any:
    headers = getattr(message, "headers", None)
    return headers if isinstance(headers, Mapping) else {}


def on_task_rejected(sender: Any = None, message: Any = None, exc: Any = None, **_: Any) -> None:
    """Log ``task.rejected``: a message on a task queue the worker could not take as a task."""
    try:
        headers = _message_headers(message)
        data = {
            "task": headers.get("task"),
            "task_id": headers.get("id"),
            "reason": reason_text(exc),
            "queue": (getattr(message, "delivery_info", None) or {}).get("routing_key"),
        }
        log_with_headers(
            logging.ERROR,
            "Task message rejected",
            event="task.rejected",
            carrier=headers,
            data=data,
        )
    except Exception as error:
        report("task_rejected", error)


def on_task_unknown(
    sender: Any = None,
    message: Any = None,
    exc: Any = None,
    name: Any = None,
    id: Any = None,
    **_: Any,
) -> None:
    """Log ``task.unknown``: a message for a task this worker has not registered."""
    try:
        data = {"task": name, "task_id": id, "reason": reason_text(exc)}
        log_with_headers(
            logging.ERROR,
            "Unknown task %s received",
            name,
            event="task.unknown",
            carrier=_message_headers(message),
            data=data,
        )
    except Exception as error:
        report("task_unknown", error)
