"""Tasks only the reliability suite runs: a probe that logs inside and outside a binding, and a
task that sleeps (to be killed mid-run)."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import shared_task

import agent_tracing as at

log = at.get_logger("tests.stress_tasks")


@shared_task(name="stress.probe")
def probe(tag: int) -> dict[str, Any]:
    """Log two lines (one with a nested binding) and return the context the run saw."""
    log.info("probe", event="stress.probe", data={"tag": tag})
    with at.bind(backtest_id=tag):
        log.info("probe bound", event="stress.probe.bound", data={"tag": tag})
    ctx = at.current_context()
    return {"correlation_id": ctx.get("correlation_id"), "user_id": ctx.get("user_id"),
            "tag": tag, "pid": os.getpid()}  # fmt: skip


@shared_task(name="stress.sleep")
def sleep(seconds: float) -> int:
    """Log the pool process id, flush, then sleep ``seconds``."""
    log.info("sleeping", event="stress.sleeping", data={"pid": os.getpid()})
    at.flush_logging()
    time.sleep(seconds)
    return os.getpid()
