"""instrument_celery / uninstrument_celery, the worker's logging, and handlers that never raise."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, signals

import agent_tracing as at
from agent_tracing.celery import (
    TaskLogOptions,
    instrument_celery,
    is_instrumented,
    lifecycle,
    uninstrument_celery,
)
from agent_tracing.celery import options as celery_options
from agent_tracing.testing import CapturedEvents
from tests.conftest import json_lines

_HANDLED = (
    signals.before_task_publish,
    signals.task_prerun,
    signals.task_postrun,
    signals.task_failure,
    signals.task_retry,
    signals.task_revoked,
    signals.task_rejected,
    signals.task_unknown,
    signals.setup_logging,
    signals.worker_process_shutdown,
)


@pytest.fixture
def clean() -> Iterator[None]:
    """No instrumentation before or after the test."""
    uninstrument_celery()
    yield
    uninstrument_celery()


def _ours(signal: Any) -> int:
    return sum(
        1
        for _, receiver in signal.receivers
        if getattr(receiver, "__module__", "").startswith("agent_tracing.celery")
    )


def test_instrument_connects_and_uninstrument_disconnects_every_handler(clean: None) -> None:
    """Each handled signal gets one receiver, and uninstrument removes exactly those."""
    assert instrument_celery(Celery("a")) is True
    assert is_instrumented()
    assert [_ours(signal) for signal in _HANDLED] == [1] * len(_HANDLED)
    assert uninstrument_celery() is True
    assert [_ours(signal) for signal in _HANDLED] == [0] * len(_HANDLED)
    assert uninstrument_celery() is False


def test_task_success_is_connected_only_for_a_separate_succeeded_line(clean: None) -> None:
    """By default task.end is the success record and task_success has no receiver of ours."""
    instrument_celery(worker_logging=False)
    assert _ours(signals.task_success) == 0
    uninstrument_celery()
    instrument_celery(worker_logging=False, options=TaskLogOptions(log_succeeded=True))
    assert _ours(signals.task_success) == 1
    uninstrument_celery()
    assert _ours(signals.task_success) == 0


def _trace_filters() -> list[Any]:
    return [
        f
        for f in logging.getLogger("celery.app.trace").filters
        if f.__module__.startswith("agent_tracing")
    ]


def test_dropping_celerys_duplicate_lines_is_undone_by_uninstrument(clean: None) -> None:
    """instrument_celery adds one filter to celery.app.trace and wraps its info(); uninstrument
    removes the filter and puts Celery's info() back; the opt-out does neither."""
    from celery.app import trace

    original = trace.info
    instrument_celery(worker_logging=False)
    assert len(_trace_filters()) == 1
    assert trace.info is not original
    assert trace.info.__wrapped__ is original  # type: ignore[attr-defined]
    uninstrument_celery()
    assert (_trace_filters(), trace.info) == ([], original)
    instrument_celery(worker_logging=False, options=TaskLogOptions(keep_celery_task_lines=True))
    assert (_trace_filters(), trace.info) == ([], original)


def test_instrumenting_twice_warns_and_changes_nothing(clean: None) -> None:
    """A second call warns and leaves one receiver per signal."""
    instrument_celery()
    with pytest.warns(UserWarning, match="already instrumented"):
        assert instrument_celery() is False
    assert _ours(signals.task_prerun) == 1


def test_without_worker_logging_celery_logging_is_left_alone(clean: None) -> None:
    """worker_logging=False connects no setup_logging receiver."""
    instrument_celery(worker_logging=False)
    assert _ours(signals.setup_logging) == 0
    assert _ours(signals.task_prerun) == 1


def test_worker_logging_setup_is_idempotent_and_owns_the_root(clean: None, tmp_path: Path) -> None:
    """Celery's logging setup, run twice, installs our handlers once; a foreign root handler is
    taken off as configure_logging does, and put back by shutdown_logging."""
    app = Celery("logging-test")
    instrument_celery(
        app, logging_options={"console": False, "json_output": str(tmp_path / "w.jsonl")}
    )
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        for _ in range(2):
            type(app.log)._setup = False
            app.log.setup(loglevel=logging.DEBUG)
        ours = [h for h in root.handlers if getattr(h, "_agent_tracing_handler", False)]
        assert len(ours) == 1
        assert foreign not in root.handlers
        assert root.level == logging.DEBUG  # the worker's --loglevel
        with at.bind(correlation_id="cid-w"):
            logging.getLogger("celery.worker").info("worker line")
        at.flush_logging()
        lines = json_lines(tmp_path / "w.jsonl")
        assert [(line["logger"], line["correlation_id"]) for line in lines] == [
            ("celery.worker", "cid-w")
        ]
        at.shutdown_logging()
        assert root.handlers.count(foreign) == 1
    finally:
        root.removeHandler(foreign)
        type(app.log)._setup = False


def test_worker_logfile_becomes_the_json_output(
    clean: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``celery worker --logfile x`` writes the JSON lines to x (unless the options say else)."""
    monkeypatch.delenv("AGENT_TRACING_JSON_OUTPUT", raising=False)
    instrument_celery(logging_options={"console": False})
    path = tmp_path / "worker.jsonl"
    signals.setup_logging.send(
        sender=None, loglevel=logging.INFO, logfile=str(path), format="", colorize=False
    )
    logging.getLogger("celery.worker").warning("to the logfile")
    at.flush_logging()
    assert [line["message"] for line in json_lines(path)] == ["to the logfile"]


def test_a_failing_handler_never_raises_and_reports_once(
    clean: None, log_events: CapturedEvents
) -> None:
    """A broken task object in prerun is reported once as task.instrumentation_error."""
    instrument_celery(worker_logging=False)
    celery_options.State.failures_reported.discard("task_prerun")
    for _ in range(3):
        signals.task_prerun.send(sender=object(), task_id="t1", task=object(), args=(), kwargs={})
    errors = log_events.by_event("task.instrumentation_error")
    assert len(errors) == 1
    assert errors[0]["level"] == "WARNING"
    assert at.current_context() == {}


def test_postrun_without_prerun_does_nothing(clean: None, log_events: CapturedEvents) -> None:
    """A postrun for a run that was never started (prerun failed) logs nothing and raises not."""
    instrument_celery(worker_logging=False)
    app = Celery("p")

    @app.task(name="p.noop")
    def noop() -> None:
        """Nothing."""

    task = app.tasks["p.noop"]
    log_events.clear()
    signals.task_postrun.send(sender=task, task_id="t", task=task, retval=None, state="SUCCESS")
    assert [line for line in log_events.raw if line["logger"] == "agent_tracing.celery"] == []
    assert at.current_context() == {}


def test_a_forked_child_writes_every_queued_line_before_it_exits(
    clean: None, tmp_path: Path
) -> None:
    """Queue mode in a forked child (a prefork pool process): lines logged just before
    worker_process_shutdown and os._exit all reach the file."""
    instrument_celery(logging_options={"console": False})
    path = tmp_path / "child.jsonl"
    at.configure_logging(console=False, json_output=str(path), queue_mode=True)
    log = at.get_logger("app.child")
    pid = os.fork()
    if pid == 0:  # the child: no pytest machinery from here on
        code = 0
        try:
            with at.bind(correlation_id="cid-child"):
                for index in range(2000):
                    log.info("line %d", index)
            signals.worker_process_shutdown.send(sender="host", pid=os.getpid(), exitcode=0)
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    lines = json_lines(path)
    assert len(lines) == 2000
    assert {line["correlation_id"] for line in lines} == {"cid-child"}


def test_the_integration_imports_the_core_and_celery_only() -> None:
    """Every module of agent_tracing.celery imports the core, Celery (kombu, billiard) and the
    standard library, never another integration."""
    import ast
    import sys

    package = Path(lifecycle.__file__).parent
    allowed = {"agent_tracing", "celery", "kombu", "billiard", "__future__"}
    core = {"config", "context", "encoding", "logger", "spans", "celery"}
    offenders = []
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in allowed and top not in sys.stdlib_module_names:
                    offenders.append((path.name, name))
                if top == "agent_tracing" and name.count(".") and name.split(".")[1] not in core:
                    offenders.append((path.name, name))
    assert offenders == []
