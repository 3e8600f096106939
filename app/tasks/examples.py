"""Small tasks that exercise every path of the Celery integration (tests, the demo, benchmarks).

They publish follow-up tasks through ``self.app`` rather than a module-level app, so they work in
any app that includes this module (tests build several apps in one process).
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from celery import Task, shared_task

import agent_tracing as at
from app.celery.celery_async import AsyncTask
from app.util.logger import setup_logger

log = setup_logger("tasks.examples", component="ExampleTasks")


class TransientError(ConnectionError):
    """A failure worth retrying (a broker or exchange hiccup)."""


def _context() -> dict[str, Any]:
    """The context this run sees, for callers that check it across processes."""
    ctx = at.current_context()
    return {
        key: ctx.get(key)
        for key in ("correlation_id", "user_id", "strategy_id", "backtest_id", "span_id")
    } | {"parent_span_id": ctx.get("parent_span_id"), "pid": os.getpid()}


@shared_task(name="examples.noop")
def noop() -> None:
    """Do nothing (the benchmark's trivial task)."""


@shared_task(name="examples.add")
def add(x: int, y: int) -> int:
    """Add two numbers and log it."""
    log.info("Adding", data={"x": x, "y": y})
    return x + y


@shared_task(name="examples.context")
def context(tag: Any = None) -> dict[str, Any]:
    """Log one line and return the context the task ran in."""
    log.info("Context probe", data={"tag": tag})
    return _context() | {"tag": tag}


@shared_task(name="examples.login")
def login(username: str, password: str, settings: dict[str, Any] | None = None) -> str:
    """A task whose arguments hold secrets (for redaction checks)."""
    log.info("Logging in", data={"username": username})
    return f"welcome {username}"


@shared_task(name="examples.fail")
def fail(message: str = "boom") -> None:
    """Raise ``ValueError(message)``."""
    log.warning("About to fail")
    raise ValueError(message)


@shared_task(name="examples.flaky", bind=True, max_retries=3)
def flaky(self: Task, failures: int = 1) -> int:
    """Fail ``failures`` times, retrying with ``self.retry`` after 0.1 s, then succeed."""
    attempt = self.request.retries
    if attempt < failures:
        log.warning("Flaky attempt failed", data={"attempt": attempt})
        raise self.retry(exc=TransientError(f"attempt {attempt}"), countdown=0.1)
    return attempt


@shared_task(
    name="examples.autoretry",
    bind=True,
    autoretry_for=(TransientError,),
    retry_kwargs={"countdown": 0.1},
    max_retries=3,
)
def autoretry(self: Task, failures: int = 1) -> int:
    """Raise :class:`TransientError` ``failures`` times (Celery's autoretry retries), then
    succeed."""
    attempt = self.request.retries
    if attempt < failures:
        raise TransientError(f"attempt {attempt}")
    return attempt


@shared_task(name="examples.spawn", bind=True)
def spawn(self: Task, tag: Any = None) -> str:
    """Publish ``examples.context`` from inside this task; return the child's task id."""
    child = self.app.tasks["examples.context"].delay(tag)
    return str(child.id)


@shared_task(name="examples.collect")
def collect(results: list[Any]) -> dict[str, Any]:
    """A chord callback: count the header results and return the callback's context."""
    return _context() | {"count": len(results)}


@shared_task(name="examples.crash")
def crash() -> None:
    """Kill the pool process running this task (a worker lost mid-task)."""
    log.warning("Crashing the pool process")
    at.flush_logging()
    os.kill(os.getpid(), signal.SIGKILL)


@shared_task(name="examples.async_context", base=AsyncTask)
async def async_context(tag: Any = None) -> dict[str, Any]:
    """An ``async def`` body run by :class:`AsyncTask`: log, await, return the context."""
    log.info("Async probe", data={"tag": tag})
    await asyncio.sleep(0)
    with at.bind(backtest_id=42):
        log.info("Async probe bound")
    return _context() | {"tag": tag}
