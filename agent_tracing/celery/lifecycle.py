"""Signal handlers: the publisher's side, a task's run as a span, and the worker's verdicts.

Where each handler runs (measured on prefork, solo and threads pools):

- ``before_task_publish``: wherever a task is sent, including inside a running task (chain steps,
  chord callbacks, retries and tasks started from tasks are published while the parent task's
  context is bound, so they carry it on).
- ``task_prerun`` / ``task_success`` / ``task_failure`` / ``task_retry`` / ``task_postrun``: in the
  process and thread that runs the task, in this order, around the body.
- ``task_revoked`` / ``task_rejected`` / ``task_unknown``, and ``task_failure`` for a pool child
  lost mid-task: in the worker's main process, where no task context is bound; the context is read
  from the request's or the message's headers for the one line.

No handler raises into Celery: a failure inside one is reported once on the
``agent_tracing.celery`` logger and the task goes on.
"""

from __future__ import annotations

import logging
import threading
import types
from collections.abc import Mapping
from contextvars import Token
from dataclasses import dataclass, field
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import states
from celery.exceptions import Retry

from agent_tracing.celery.headers import context_from_headers, inject_context, redact_reprs
from agent_tracing.context import (
    bind_contextvars,
    get_context_value,
    new_correlation_id,
    replace_contextvars,
    reset_contextvars,
)
from agent_tracing.encoding import Limits, Sanitizer, get_sanitizer, safe_repr
from agent_tracing.logger import get_logger
from agent_tracing.spans import Span

__all__ = ["LOGGER_NAME", "TaskLogOptions"]

#: The logger of every lifecycle line (its level and handlers are the stdlib's).
LOGGER_NAME = "agent_tracing.celery"
_log = get_logger(LOGGER_NAME)
# Where a task run keeps its span and context token: an attribute of the run's own request
# context, so nested eager runs (retries of an eager task) never share one.
_RUN_ATTR = "_agent_tracing_run"

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


@dataclass
class TaskLogOptions:
    """What the lifecycle lines show of a task's arguments and result.

    Attributes:
        log_publish: Log ``task.published`` where a task is sent.
        log_args: Show the (redacted) args and kwargs on ``task.start``.
        log_result: Show the (redacted) result on the success record.
        log_start: Log ``task.start``; without it a run logs one line, ``task.end``, which then
            carries what the start line would have (args, queue, hostname, retries...).
        log_succeeded: Log a separate ``task.succeeded`` line; by default the run's ``task.end``
            (``status`` ok, ``state`` SUCCESS, with the result) is the success record, which
            saves one line per task.
        limits: Bounds on the args, kwargs and result shown (strings, items, depth).
    """

    log_publish: bool = True
    log_args: bool = True
    log_result: bool = True
    log_start: bool = True
    log_succeeded: bool = False
    limits: Limits = field(
        default_factory=lambda: Limits(max_string=256, max_items=20, max_depth=4)
    )


class _State:
    options = TaskLogOptions()
    sanitizer: Sanitizer | None = None
    failures_reported: set[str] = set()
    lock = threading.Lock()


@dataclass(slots=True)
class _Run:
    span: Span
    token: Token[Mapping[str, Any]]


def configure(options: TaskLogOptions) -> None:
    """Use ``options`` from now on."""
    _State.options = options
    _State.sanitizer = None


_SCALARS = (int, float, bool, type(None))


def _summary(value: Any) -> Any:
    """A JSON-safe, redacted copy of ``value`` within the lifecycle lines' own, smaller bounds
    (a task's args can be a whole data frame)."""
    limits = _State.options.limits
    # The common case, a few ids and short strings: the formatter's sanitizer redacts them
    # anyway, so they go as they are.
    if value.__class__ is tuple or value.__class__ is list:
        if len(value) <= limits.max_items and all(_plain(item, limits) for item in value):
            return list(value)
    elif value.__class__ is dict:
        if len(value) <= limits.max_items and all(
            key.__class__ is str and _plain(item, limits) for key, item in value.items()
        ):
            return value
    elif _plain(value, limits):
        return value
    san = _State.sanitizer
    active = get_sanitizer()
    if san is None or san.redactor is not active.redactor:
        # The active redactor (configure_logging's redact_keys) with the smaller bounds.
        san = Sanitizer(active.redactor, limits)
        _State.sanitizer = san
    return san.clean(value)


def _plain(value: Any, limits: Limits) -> bool:
    cls = value.__class__
    if cls is str:
        return len(value) <= limits.max_string
    return cls in _SCALARS


def _report(where: str, error: BaseException) -> None:
    """Log a handler's own failure, once per handler, and never raise."""
    try:
        with _State.lock:
            if where in _State.failures_reported:
                return
            _State.failures_reported.add(where)
        _log.warning(
            "agent_tracing celery handler %s failed: %s",
            where,
            safe_repr(error, 500),
            event="task.instrumentation_error",
            exc_info=error,
        )
    except Exception:  # pragma: no cover - the last resort stays silent
        pass


# -- publisher -------------------------------------------------------------------------------------
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
        inject_context(headers)
        redact_reprs(headers, body)
        if _State.options.log_publish and _log.isEnabledFor(logging.INFO):
            data: dict[str, Any] = {
                "task": sender,
                "task_id": headers.get("id"),
                "queue": routing_key,
            }
            eta = headers.get("eta")
            if eta is not None:
                data["eta"] = eta
            parent = headers.get("parent_id")
            if parent is not None:
                data["parent_task_id"] = parent
            _log.info("Task %s published", sender, event="task.published", data=data)
    except Exception as error:
        _report("before_task_publish", error)


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
        log_start = _State.options.log_start
        span = Span(
            task.name, "task", logger=_log, parent_span_id=parent, data=data, log_start=log_start
        )
        if not log_start:
            span.set(**data)
        try:
            span.start()
        except BaseException:
            reset_contextvars(token)
            raise
        setattr(request, _RUN_ATTR, _Run(span, token))
    except Exception as error:
        _report("task_prerun", error)


def _start_data(
    task: Any, task_id: Any, request: Any, signal_args: Mapping[str, Any], source: str
) -> dict[str, Any]:
    data: dict[str, Any] = {"task": task.name, "task_id": task_id}
    options = _State.options
    if options.log_args:
        data["args"] = _summary(signal_args.get("args") or ())
        data["kwargs"] = _summary(signal_args.get("kwargs") or {})
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
        run = getattr(task.request, _RUN_ATTR, None)
    except Exception:
        return None
    return run if isinstance(run, _Run) else None


def on_task_success(sender: Any = None, result: Any = None, **_: Any) -> None:
    """Record the short, redacted result on ``task.end`` (or log ``task.succeeded``)."""
    try:
        run = _current_run(sender)
        if run is None:
            return
        options = _State.options
        if not options.log_succeeded:
            if options.log_result:
                run.span.set(result=_summary(result))
            return
        data: dict[str, Any] = {
            "task": sender.name,
            "task_id": sender.request.id,
            "duration_ms": run.span.duration_ms,
        }
        if _State.options.log_result:
            data["result"] = _summary(result)
        _log.info("Task %s succeeded", sender.name, event="task.succeeded", data=data)
    except Exception as error:
        _report("task_success", error)


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
            _log.error("Task %s failed", name, event="task.failed", data=data, exc_info=exc_info)
            return
        # Not inside a run: the worker's main process speaks for a run that cannot (a pool child
        # that died, a rejected message). The request it pushed carries the headers.
        request = getattr(sender, "request", None)
        lost = isinstance(exception, WorkerLostError)
        event = "task.worker_lost" if lost else "task.failed"
        message = "Worker lost while running task %s" if lost else "Task %s failed"
        _log_with_headers(
            logging.ERROR,
            message,
            name,
            event=event,
            carrier=request,
            data={"task": name, "task_id": task_id},
            exc_info=exc_info,
        )
    except Exception as error:
        _report("task_failure", error)


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
        data["reason"] = _reason_text(cause)
        if _current_run(sender) is not None:
            _log.warning("Task %s retry", name, event="task.retried", data=data)
        else:  # a lost worker's task retried by the main process
            _log_with_headers(
                logging.WARNING,
                "Task %s retry",
                name,
                event="task.retried",
                carrier=request,
                data=data,
            )
    except Exception as error:
        _report("task_retry", error)


def _reason_text(cause: Any) -> str | None:
    if cause is None:
        return None
    if isinstance(cause, BaseException):
        try:
            text = str(cause)
        except Exception:
            text = safe_repr(cause)
        return f"{type(cause).__name__}: {text[:500]}"
    return safe_repr(cause, 500) if not isinstance(cause, str) else cause[:500]


def on_task_postrun(
    sender: Any = None, task_id: Any = None, task: Any = None, state: Any = None, **_: Any
) -> None:
    """End the task's span and restore exactly the context the process had before the run."""
    task = task if task is not None else sender
    try:
        request = task.request
        run = getattr(request, _RUN_ATTR, None)
        if not isinstance(run, _Run):
            return
        delattr(request, _RUN_ATTR)
    except Exception as error:
        _report("task_postrun", error)
        return
    try:
        status = _STATUS.get(state, "ok" if state is None else str(state).lower())
        level = logging.WARNING if status == "rejected" else None
        name = task.name
        run.span.finish(
            status=status,
            level=level,
            message=_END_MESSAGES.get(status, "%s ended") % name,
            data={"task": name, "task_id": task_id, "state": state},
        )
    except Exception as error:
        _report("task_postrun", error)
    finally:
        try:
            reset_contextvars(run.token)
        except Exception as error:
            _report("task_postrun.reset", error)


# -- the worker's main process --------------------------------------------------------------------
def _log_with_headers(
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
        _log.log(level, message, *args, event=event, data=data, exc_info=exc_info)
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
        _log_with_headers(
            logging.WARNING,
            "Task %s revoked",
            name,
            event="task.revoked",
            carrier=request,
            data=data,
        )
    except Exception as error:
        _report("task_revoked", error)


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
            "reason": _reason_text(exc),
            "queue": (getattr(message, "delivery_info", None) or {}).get("routing_key"),
        }
        _log_with_headers(
            logging.ERROR,
            "Task message rejected",
            event="task.rejected",
            carrier=headers,
            data=data,
        )
    except Exception as error:
        _report("task_rejected", error)


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
        data = {"task": name, "task_id": id, "reason": _reason_text(exc)}
        _log_with_headers(
            logging.ERROR,
            "Unknown task %s received",
            name,
            event="task.unknown",
            carrier=_message_headers(message),
            data=data,
        )
    except Exception as error:
        _report("task_unknown", error)
