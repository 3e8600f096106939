"""What the lifecycle lines show, the logger they go to, and the helpers every handler shares."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agent_tracing.encoding import Limits, Sanitizer, get_sanitizer, safe_repr
from agent_tracing.logger import get_logger

__all__ = ["LOGGER_NAME", "RUN_ATTR", "TaskLogOptions", "configure"]

#: The logger of every lifecycle line (its level and handlers are the stdlib's).
LOGGER_NAME = "agent_tracing.celery"
log = get_logger(LOGGER_NAME)
#: Where a task run keeps its span and context token: an attribute of the run's own request
#: context, so nested eager runs (retries of an eager task) never share one.
RUN_ATTR = "_agent_tracing_run"


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
        keep_celery_task_lines: Also write Celery's own outcome line of each run (logger
            ``celery.app.trace``: "Task X[id] succeeded in Ys: result", "... retry: ...",
            "... raised unexpected: ..." with its traceback, "... raised expected: ...",
            "... ignored"). By default a line of these is dropped when it is logged inside a run
            of ours and ``agent_tracing.celery`` writes the lifecycle line that says the same
            (``task.end``, ``task.retried``, ``task.failed``), so nothing is logged twice.
            Celery's "received" line, internal errors, a rejected run's reason and its other
            lines always stay.
        limits: Bounds on the args, kwargs and result shown (strings, items, depth).
    """

    log_publish: bool = True
    log_args: bool = True
    log_result: bool = True
    log_start: bool = True
    log_succeeded: bool = False
    keep_celery_task_lines: bool = False
    limits: Limits = field(
        default_factory=lambda: Limits(max_string=256, max_items=20, max_depth=4)
    )


class State:
    """The options in effect, the bounded sanitizer built from them, failures reported."""

    options = TaskLogOptions()
    sanitizer: Sanitizer | None = None
    failures_reported: set[str] = set()
    lock = threading.Lock()


def configure(options: TaskLogOptions) -> None:
    """Use ``options`` from now on."""
    State.options = options
    State.sanitizer = None


_SCALARS = (int, float, bool, type(None))


def summary(value: Any) -> Any:
    """A JSON-safe, redacted copy of ``value`` within the lifecycle lines' own, smaller bounds
    (a task's args can be a whole data frame)."""
    cls = value.__class__
    if cls in _SCALARS:  # None (most results), numbers, booleans
        return value
    limits = State.options.limits
    # The common case, a few ids and short strings: the formatter's sanitizer redacts them
    # anyway, so they go as they are.
    if cls is tuple or cls is list:
        if len(value) <= limits.max_items and _all_plain(value, limits.max_string):
            return list(value)
    elif cls is dict:
        if len(value) <= limits.max_items and (
            not value
            or (
                all(key.__class__ is str for key in value)
                and _all_plain(value.values(), limits.max_string)
            )
        ):
            return value
    elif cls is str and len(value) <= limits.max_string:
        return value
    san = State.sanitizer
    active = get_sanitizer()
    if san is None or san.redactor is not active.redactor:
        # The active redactor (configure_logging's redact_keys) with the smaller bounds.
        san = Sanitizer(active.redactor, limits)
        State.sanitizer = san
    return san.clean(value)


def _all_plain(values: Iterable[Any], max_string: int) -> bool:
    """Whether every value is a scalar or a string of at most ``max_string`` characters."""
    for item in values:
        cls = item.__class__
        if cls is str:
            if len(item) > max_string:
                return False
        elif cls not in _SCALARS:
            return False
    return True


def report(where: str, error: BaseException) -> None:
    """Log a handler's own failure, once per handler, and never raise."""
    try:
        with State.lock:
            if where in State.failures_reported:
                return
            State.failures_reported.add(where)
        log.warning(
            "agent_tracing celery handler %s failed: %s",
            where,
            safe_repr(error, 500),
            event="task.instrumentation_error",
            exc_info=error,
        )
    except Exception:  # pragma: no cover - the last resort stays silent
        pass


def reason_text(cause: Any) -> str | None:
    if cause is None:
        return None
    if isinstance(cause, BaseException):
        try:
            text = str(cause)
        except Exception:
            text = safe_repr(cause)
        return f"{type(cause).__name__}: {text[:500]}"
    return safe_repr(cause, 500) if not isinstance(cause, str) else cause[:500]
