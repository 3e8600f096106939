"""The publisher's lines: ``task.published`` once the broker took the message, and
``task.publish_failed`` when sending it raised (the broker down, a refused connection).

``before_task_publish`` fires before the message is sent, so it only prepares the message (the
context headers, the redacted argument reprs) and remembers, per thread, which task is on its way.
``after_task_publish`` fires only once the broker took it: that is where success is logged. No
signal says that sending failed, so :meth:`celery.Celery.send_task` (every ``apply_async``,
``delay``, retry and canvas step goes through it) is wrapped while Celery is instrumented: when it
raises, the failure is logged once, with the error, and re-raised unchanged.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from celery import Celery, current_app

from agent_tracing.celery.headers import inject_context, redact_reprs, secret_positions
from agent_tracing.celery.options import State, log, report

__all__ = [
    "install_send_task_guard",
    "on_after_task_publish",
    "on_before_task_publish",
    "uninstall_send_task_guard",
]

#: The message being sent by this thread: (task name, headers, routing key), set by
#: ``before_task_publish`` and read only if sending it fails.
_sending = threading.local()
_ORIGINAL_ATTR = "_agent_tracing_original"


def on_before_task_publish(
    sender: Any = None,
    body: Any = None,
    routing_key: Any = None,
    headers: Any = None,
    **_: Any,
) -> None:
    """Carry the current context in the message headers and redact the printable args."""
    try:
        if headers is None:
            return
        _sending.message = (sender, headers, routing_key)
        inject_context(headers)
        redact_reprs(headers, body, _publish_positions(sender))
    except Exception as error:
        report("before_task_publish", error)


def on_after_task_publish(
    sender: Any = None, headers: Any = None, routing_key: Any = None, **_: Any
) -> None:
    """Log ``task.published``: the broker took the message."""
    try:
        _sending.message = None
        if headers is None or not State.options.log_publish or not log.isEnabledFor(logging.INFO):
            return
        log.info(
            "Task %s published",
            sender,
            event="task.published",
            data=_data(sender, headers, routing_key),
        )
    except Exception as error:
        report("after_task_publish", error)


def _data(sender: Any, headers: Any, routing_key: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"task": sender, "task_id": headers.get("id"), "queue": routing_key}
    eta = headers.get("eta")
    if eta is not None:
        data["eta"] = eta
    parent = headers.get("parent_id")
    if parent is not None:
        data["parent_task_id"] = parent
    return data


def _publish_positions(sender: Any) -> frozenset[int]:
    # The signal names the task; its function (shared by every app) names the parameters.
    try:
        task = current_app.tasks.get(sender) if isinstance(sender, str) else None
        return secret_positions(task) if task is not None else frozenset()
    except Exception:
        return frozenset()


def _log_failure(name: Any, task_id: Any, error: BaseException) -> None:
    """Log ``task.publish_failed`` for the message this thread was sending."""
    try:
        message = getattr(_sending, "message", None)
        _sending.message = None
        if message is not None and message[0] == name:
            sender, headers, routing_key = message
            data = _data(sender, headers, routing_key)
        else:  # it failed before the message was built
            data = {"task": name, "task_id": task_id}
        log.error(
            "Task %s could not be published: %s",
            name,
            type(error).__name__,
            event="task.publish_failed",
            data=data,
            exc_info=error,
        )
    except Exception as failure:
        report("send_task", failure)


def _guarded(send_task: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(send_task)
    def guarded_send_task(self: Celery, name: Any, *args: Any, **kwargs: Any) -> Any:
        _sending.message = None  # nothing left over from a send that failed elsewhere
        try:
            return send_task(self, name, *args, **kwargs)
        except Exception as error:
            _log_failure(name, kwargs.get("task_id"), error)
            raise

    setattr(guarded_send_task, _ORIGINAL_ATTR, send_task)
    return guarded_send_task


def install_send_task_guard() -> None:
    """Wrap :meth:`celery.Celery.send_task` so a failed send is logged (once; idempotent)."""
    current = Celery.send_task
    if getattr(current, _ORIGINAL_ATTR, None) is None:
        Celery.send_task = _guarded(current)


def uninstall_send_task_guard() -> None:
    """Restore the :meth:`celery.Celery.send_task` that :func:`install_send_task_guard` wrapped."""
    original = getattr(Celery.send_task, _ORIGINAL_ATTR, None)
    if original is not None:
        Celery.send_task = original
