"""``instrument_celery`` / ``uninstrument_celery``: connect and disconnect every handler.

Celery's signals are process-wide (``before_task_publish`` names the task, not the app), so one
call instruments every app of the process; a second call warns and does nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from celery import Celery, signals

from agent_tracing.celery import duplicates, lifecycle, publishing, verdicts
from agent_tracing.celery.options import TaskLogOptions, configure, report
from agent_tracing.config import configure_logging, configured_arguments, flush_logging

__all__ = ["instrument_celery", "is_instrumented", "uninstrument_celery"]


class _Installed:
    connected: list[tuple[Any, Callable[..., Any]]] = []
    logging_options: dict[str, Any] | None = None
    lock = threading.Lock()


#: The main process's answer, for pool children started as fresh interpreters (billiard's spawn):
#: they have no command line to ask.
_LOGLEVEL_GIVEN = "AGENT_TRACING_CELERY_LOGLEVEL_GIVEN"


def _loglevel_given() -> bool:
    """Whether the worker's ``--loglevel`` was chosen rather than Celery's default (WARNING).

    Only the ``celery`` command line knows; it runs on click, so click's context says where the
    value came from, and the answer is left in the environment for the pool's children. A worker
    started otherwise (``start_worker``, ``app.Worker``) passes its level on purpose.
    """
    click = sys.modules.get("click")  # loaded by the command line; not imported for this alone
    context = click.get_current_context(silent=True) if click is not None else None
    if context is None or context.command.name != "worker":
        return os.environ.get(_LOGLEVEL_GIVEN) != "0"
    source = context.get_parameter_source("loglevel")
    given = source is None or source.name != "DEFAULT"
    os.environ[_LOGLEVEL_GIVEN] = "1" if given else "0"
    return given


def _on_setup_logging(loglevel: Any = None, logfile: Any = None, **_: Any) -> None:
    """Own the worker's logging: with a receiver connected Celery leaves the root logger alone.

    The setup the process already made (``configure_logging`` at import) is kept: its arguments,
    ``logging_options`` on top, and Celery's ``--loglevel`` / ``--logfile`` only for what neither
    gave.
    """
    configured = configured_arguments()
    options = {**(configured or {}), **(_Installed.logging_options or {})}
    # ``celery worker -l debug --logfile worker.jsonl`` still decides, unless the options or the
    # AGENT_TRACING_* variables say otherwise; Celery's default level does not replace the one of
    # a setup the process made itself.
    if (
        "level" not in options
        and loglevel
        and not os.environ.get("AGENT_TRACING_LEVEL")
        and (configured is None or _loglevel_given())
    ):
        options["level"] = (
            loglevel if isinstance(loglevel, int) else logging.getLevelName(str(loglevel).upper())
        )
    if (
        "json_output" not in options
        and isinstance(logfile, str)
        and logfile
        and not os.environ.get("AGENT_TRACING_JSON_OUTPUT")
    ):
        options["json_output"] = logfile
    configure_logging(**options)


def _on_worker_process_shutdown(**_: Any) -> None:
    """A prefork child leaves through ``os._exit``: write out its queued lines first."""
    try:
        flush_logging()
    except Exception as error:  # pragma: no cover - flushing a broken stream
        report("worker_process_shutdown", error)


_TASK_HANDLERS: tuple[tuple[Any, Callable[..., Any]], ...] = (
    (signals.before_task_publish, publishing.on_before_task_publish),
    (signals.after_task_publish, publishing.on_after_task_publish),
    (signals.task_prerun, lifecycle.on_task_prerun),
    (signals.task_failure, lifecycle.on_task_failure),
    (signals.task_retry, lifecycle.on_task_retry),
    (signals.task_postrun, lifecycle.on_task_postrun),
    (signals.task_revoked, verdicts.on_task_revoked),
    (signals.task_rejected, verdicts.on_task_rejected),
    (signals.task_unknown, verdicts.on_task_unknown),
)
_LOGGING_HANDLERS: tuple[tuple[Any, Callable[..., Any]], ...] = (
    (signals.setup_logging, _on_setup_logging),
    (signals.worker_process_shutdown, _on_worker_process_shutdown),
)


def instrument_celery(
    app: Celery | None = None,
    *,
    worker_logging: bool = True,
    logging_options: Mapping[str, Any] | None = None,
    options: TaskLogOptions | None = None,
) -> bool:
    """Trace every task of this process and own the worker's logging.

    Connects the publish, run and verdict handlers (see :mod:`agent_tracing.celery.publishing`,
    :mod:`agent_tracing.celery.lifecycle` and :mod:`agent_tracing.celery.verdicts`), wraps
    :meth:`celery.Celery.send_task` so a publish that raised is logged as failed, and, with
    ``worker_logging``, a ``setup_logging`` receiver that calls
    :func:`agent_tracing.configure_logging` when a worker starts, and a
    ``worker_process_shutdown`` receiver that flushes a prefork child's lines before it exits.

    Args:
        app: The app being instrumented. Signals are process-wide, so every app of the process is
            covered; the app is accepted so the call reads where it belongs (next to the app).
        worker_logging: Configure logging when a worker starts (``setup_logging``); Celery then
            leaves the root logger alone (no hijack, no stdout redirect).
        logging_options: Keyword arguments for :func:`agent_tracing.configure_logging` at worker
            start. When the process already called ``configure_logging`` (in the module the
            worker imports), the worker keeps that setup: it starts from that call's arguments,
            and ``logging_options`` win over them. Environment variables fill in the rest.
            ``level`` defaults to the worker's ``--loglevel`` unless ``AGENT_TRACING_LEVEL`` is
            set (over a setup the process made, only a ``--loglevel`` given on the command line
            counts, not Celery's default WARNING), and ``json_output`` to its ``--logfile``
            unless ``AGENT_TRACING_JSON_OUTPUT`` is set (a file the setup names stays the only
            one: each line is written once).
        options: What the lifecycle lines show (:class:`TaskLogOptions`), and whether Celery's
            own outcome line of each run, which a lifecycle line already carries, is written too
            (``keep_celery_task_lines``; by default it is not, see
            :mod:`agent_tracing.celery.duplicates`).

    Returns:
        True when this call instrumented, False when it was already done (a warning says so).
    """
    with _Installed.lock:
        if _Installed.connected:
            warnings.warn(
                "Celery is already instrumented by agent_tracing; call uninstrument_celery() "
                "first to change the options",
                stacklevel=2,
            )
            return False
        chosen = options or TaskLogOptions()
        configure(chosen)
        _Installed.logging_options = dict(logging_options or {})
        handlers = _TASK_HANDLERS + (_LOGGING_HANDLERS if worker_logging else ())
        if chosen.log_succeeded:
            # Otherwise the run's task.end is the success record, and postrun has the result:
            # one signal dispatch fewer per task.
            handlers += ((signals.task_success, lifecycle.on_task_success),)
        for signal, handler in handlers:
            # weak=False: the handlers are module functions, but a weak reference would also
            # make a re-imported module's handler vanish silently.
            signal.connect(handler, weak=False)
            _Installed.connected.append((signal, handler))
        if not chosen.keep_celery_task_lines:
            duplicates.install()
        publishing.install_send_task_guard()
    if app is not None and worker_logging:
        # Belt and braces for a worker started before this call: never let it replace our
        # handlers.
        app.conf.worker_hijack_root_logger = False
    return True


def uninstrument_celery(app: Celery | None = None) -> bool:
    """Disconnect exactly what :func:`instrument_celery` connected; False when nothing was."""
    with _Installed.lock:
        if not _Installed.connected:
            return False
        duplicates.uninstall()
        publishing.uninstall_send_task_guard()
        for signal, handler in reversed(_Installed.connected):
            signal.disconnect(handler)
        _Installed.connected = []
        _Installed.logging_options = None
    return True


def is_instrumented() -> bool:
    """Whether :func:`instrument_celery` is in effect."""
    return bool(_Installed.connected)
