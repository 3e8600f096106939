"""Signal handlers of the publisher's side and of a task's run (a span of kind ``task``).

Where each handler runs (measured on the prefork and solo pools):

- ``before_task_publish`` (in :mod:`agent_tracing.celery.publishing`): wherever a task is sent,
  including inside a running task (chain steps, chord callbacks, retries and tasks started from
  tasks are published while the parent task's context is bound, so they carry it on).
- ``task_prerun`` / ``task_success`` / ``task_failure`` / ``task_retry`` / ``task_postrun``: in the
  process and thread that runs the task, in this order, around the body.
- ``task_failure`` for a pool child lost mid-task (and ``task_revoked`` / ``task_rejected`` /
  ``task_unknown``, see :mod:`agent_tracing.celery.verdicts`): in the worker's main process, where
  no task context is bound; the context is read from the request's or the message's headers for
  the one line.

No handler raises into Celery: a failure inside one is reported once on the
``agent_tracing.celery`` logger and the task goes on.
"""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Mapping
from contextvars import Token
from dataclasses import dataclass
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import states
from celery.exceptions import Retry

from agent_tracing.celery.headers import context_from_headers, redact_positional, secret_positions
from agent_tracing.celery.options import RUN_ATTR, State, log, reason_text, report, summary
from agent_tracing.celery.verdicts import log_with_headers
from agent_tracing.context import (
    bind_contextvars,
    get_context_value,
    new_correlation_id,
    replace_contextvars,
    reset_contextvars,
)
from agent_tracing.spans import Span

__all__ = [
    "on_task_failure",
    "on_task_postrun",
    "on_task_prerun",
    "on_task_retry",
    "on_task_success",
]

_END_MESSAGES = {
    "ok": "%s succeeded",
    "error": "%s failed",
    "retry": "%s will be retried",
    "ignored": "%s ignored",
    "rejected": "%s rejected",
}
_STATUS = {
    states.SUCCESS: "ok",
    states.FAILURE: "error",
    states.RETRY: "retry",
    states.IGNORED: "ignored",
    states.REJECTED: "rejected",
}


@dataclass(slots=True)
class _Run:
    span: Span
    token: Token[Mapping[str, Any]]


# -- the run -------------------------------------------------------------------------------------
def on_task_prerun(
    sender: Any = None, task_id: Any = None, task: Any = None, **signal_args: Any
) -> None:
    """Bind the task's context (from the headers, or the caller's when eager) and start its span."""
    try:
        task = task if task is not None else sender
        request = task.request
        parent: str | None = None
        if getattr(request, "is_eager", False):
            # An eager run is a call in the caller's thread: keep the caller's context under the
            # task's span, and leave it exactly as it was afterwards.
            if get_context_value("correlation_id") is None:
                source = "new"
                token = bind_contextvars(correlation_id=new_correlation_id())
            else:
                source = "caller"
                token = bind_contextvars()
        else:
            # A worker process runs task after task: nothing of the previous one may leak in.
            carried = context_from_headers(request)
            parent = carried.pop("parent_span_id", None)
            if "correlation_id" in carried:
                source = "headers"
            else:
                source = "new"
                carried["correlation_id"] = new_correlation_id()
            token = replace_contextvars(carried)
        data = _start_data(task, task_id, request, signal_args, source)
        log_start = State.options.log_start
        span = Span(
            task.name, "task", logger=log, parent_span_id=parent, data=data, log_start=log_start
        )
        if not log_start:
            span.set(**data)
        try:
            span.start()
        except BaseException:
            reset_contextvars(token)
            raise
        setattr(request, RUN_ATTR, _Run(span, token))
    except Exception as error:
        report("task_prerun", error)


def _start_data(
    task: Any, task_id: Any, request: Any, signal_args: Mapping[str, Any], source: str
) -> dict[str, Any]:
    data: dict[str, Any] = {"task": task.name, "task_id": task_id}
    options = State.options
    if options.log_args:
        args = redact_positional(signal_args.get("args") or (), secret_positions(task))
        data["args"] = summary(args)
        data["kwargs"] = summary(signal_args.get("kwargs") or {})
    data["retries"] = getattr(request, "retries", 0) or 0
    delivery = getattr(request, "delivery_info", None) or {}
    data["queue"] = delivery.get("routing_key")
    data["hostname"] = getattr(request, "hostname", None)
    parent_task = getattr(request, "parent_id", None)
    if parent_task is not None:
        data["parent_task_id"] = parent_task
    eta = getattr(request, "eta", None)
    if eta is not None:
        data["eta"] = eta
    data["context"] = source
    return data


def _current_run(task: Any) -> _Run | None:
    try:
        run = getattr(task.request, RUN_ATTR, None)
    except Exception:
        return None
    return run if isinstance(run, _Run) else None


def on_task_success(sender: Any = None, result: Any = None, **_: Any) -> None:
    """Log ``task.succeeded`` (connected only with ``TaskLogOptions(log_succeeded=True)``)."""
    try:
        run = _current_run(sender)
        if run is None:
            return
        data: dict[str, Any] = {
            "task": sender.name,
            "task_id": sender.request.id,
            "duration_ms": run.span.duration_ms,
        }
        if State.options.log_result:
            data["result"] = summary(result)
        log.info("Task %s succeeded", sender.name, event="task.succeeded", data=data)
    except Exception as error:
        report("task_success", error)


def on_task_failure(
    sender: Any = None,
    task_id: Any = None,
    exception: BaseException | None = None,
    traceback: Any = None,
    **_: Any,
) -> None:
    """Log ``task.failed`` (or ``task.worker_lost`` from the main process) with the exception."""
    try:
        exc_info: Any = None
        if exception is not None:
            tb = traceback if isinstance(traceback, types.TracebackType) else None
            exc_info = (type(exception), exception, tb or exception.__traceback__)
        name = getattr(sender, "name", None)
        run = _current_run(sender) if sender is not None else None
        if run is not None:
            data = {"task": name, "task_id": task_id, "duration_ms": run.span.duration_ms}
            log.error("Task %s failed", name, event="task.failed", data=data, exc_info=exc_info)
            return
        # Not inside a run: the worker's main process speaks for a run that cannot (a pool child
        # that died, a rejected message). The request it pushed carries the headers.
        request = getattr(sender, "request", None)
        lost = isinstance(exception, WorkerLostError)
        event = "task.worker_lost" if lost else "task.failed"
        message = "Worker lost while running task %s" if lost else "Task %s failed"
        log_with_headers(
            logging.ERROR,
            message,
            name,
            event=event,
            carrier=request,
            data={"task": name, "task_id": task_id},
            exc_info=exc_info,
        )
    except Exception as error:
        report("task_failure", error)


def on_task_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    """Log ``task.retried`` with the reason and when the next attempt runs."""
    try:
        name = getattr(sender, "name", None)
        data: dict[str, Any] = {
            "task": name,
            "task_id": getattr(request, "id", None),
            "retries": (getattr(request, "retries", 0) or 0) + 1,
        }
        cause = reason
        if isinstance(reason, Retry):
            cause = reason.exc if reason.exc is not None else reason.message
            when = reason.when
            if isinstance(when, int | float):
                data["countdown"] = when
            elif when is not None:
                data["eta"] = when
        data["reason"] = reason_text(cause)
        if _current_run(sender) is not None:
            log.warning("Task %s retry", name, event="task.retried", data=data)
        else:  # a lost worker's task retried by the main process
            log_with_headers(
                logging.WARNING,
                "Task %s retry",
                name,
                event="task.retried",
                carrier=request,
                data=data,
            )
    except Exception as error:
        report("task_retry", error)


def _finish_interrupted(
    run: _Run, task: Any, task_id: Any, error: BaseException, data: dict[str, Any]
) -> None:
    """End a run that an exception cut short: never as a success.

    A ``BaseException`` (not an ``Exception``) gets no ``task_failure`` from Celery, so its
    ``task.failed`` line (status ``interrupted``, with the exception) is written here; an
    ``Exception`` here is Celery's own failure around the body, whose ``task.failed`` Celery's
    ``task_failure`` reports.
    """
    name = task.name
    error_type = type(error).__name__
    if not isinstance(error, Exception):
        log.error(
            "Task %s interrupted by %s",
            name,
            error_type,
            event="task.failed",
            data={
                "task": name,
                "task_id": task_id,
                "duration_ms": run.span.duration_ms,
                "status": "interrupted",
                "error_type": error_type,
            },
            exc_info=error,
        )
    data["error_type"] = error_type
    run.span.finish(status="error", message=f"{name} interrupted by {error_type}", data=data)


def on_task_postrun(
    sender: Any = None,
    task_id: Any = None,
    task: Any = None,
    retval: Any = None,
    state: Any = None,
    **_: Any,
) -> None:
    """End the task's span and restore exactly the context the process had before the run."""
    task = task if task is not None else sender
    try:
        request = task.request
        run = getattr(request, RUN_ATTR, None)
        if not isinstance(run, _Run):
            return
        delattr(request, RUN_ATTR)
    except Exception as error:
        report("task_postrun", error)
        return
    try:
        name = task.name
        data: dict[str, Any] = {"task": name, "task_id": task_id, "state": state}
        if state is None:
            # Celery sends postrun from a ``finally`` with no state only when the run did not end
            # normally: the exception on its way out (SystemExit, KeyboardInterrupt, a SIGTERM
            # handler's exit) is the one being handled here.
            interruption = sys.exc_info()[1]
            if interruption is not None:
                _finish_interrupted(run, task, task_id, interruption, data)
                return
        status = _STATUS.get(state, "ok" if state is None else str(state).lower())
        level = logging.WARNING if status == "rejected" else None
        options = State.options
        if status == "ok" and options.log_result and not options.log_succeeded:
            # The run's end is its success record (the result is the task's return value here).
            data["result"] = summary(retval)
        run.span.finish(
            status=status,
            level=level,
            message=_END_MESSAGES.get(status, "%s ended") % name,
            data=data,
        )
    except Exception as error:
        report("task_postrun", error)
    finally:
        try:
            reset_contextvars(run.token)
        except Exception as error:
            report("task_postrun.reset", error)
