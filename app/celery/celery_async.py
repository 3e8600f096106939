"""``AsyncTask``: the base class for Celery tasks whose body is ``async def``.

Celery runs task bodies synchronously; this base class runs a coroutine body to completion on an
event loop kept per worker thread (async database engines and HTTP clients bind to one loop, so a
fresh loop per task would strand their pools). The coroutine runs in a copy of the task's context,
so the correlation id and span restored from the task headers reach every line it logs, and
nothing it binds leaks into the next task. Logging goes through the core like any other module.

Usage::

    @shared_task(base=AsyncTask, bind=True)
    async def run_backtest(self, backtest_id: int) -> dict[str, Any]:
        ...
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

from celery import Task
from celery._state import _task_stack

from app.util.logger import setup_logger

__all__ = ["AsyncTask", "run_coroutine"]

T = TypeVar("T")
log = setup_logger("celery.celery_async", component="AsyncTask")


class _Loops(threading.local):
    pid: int = -1
    loop: asyncio.AbstractEventLoop | None = None


_loops = _Loops()


def _loop() -> asyncio.AbstractEventLoop:
    # A loop is not fork-safe: a prefork child must not reuse one its parent created.
    loop = _loops.loop
    pid = os.getpid()
    if loop is None or loop.is_closed() or _loops.pid != pid:
        loop = asyncio.new_event_loop()
        _loops.loop, _loops.pid = loop, pid
        log.debug(
            "Event loop created for async tasks",
            event="task.async.loop_created",
            data={"thread": threading.current_thread().name},
        )
    return loop


def run_coroutine(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion on this thread's task loop, in a copy of the context.

    Inside a running event loop (an async caller running a task eagerly) the coroutine runs on a
    helper thread with its own loop, since a loop cannot be re-entered.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _loop().run_until_complete(awaitable)  # the Task copies the current context
    import concurrent.futures
    import contextvars

    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, asyncio.run, _as_coroutine(awaitable)).result()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


class AsyncTask(Task):  # type: ignore[misc]
    """A Celery task whose ``run`` may be a coroutine function (see the module docstring)."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # In a worker the tracer has pushed this run's request already; Task.__call__ would push
        # an empty one over it (losing the id and headers), so only a direct call pushes one.
        direct = self.request_stack.top is None
        if direct:
            _task_stack.push(self)
            self.push_request(args=args, kwargs=kwargs)
        try:
            result = self.run(*args, **kwargs)
            if inspect.isawaitable(result):
                return run_coroutine(result)
            return result
        finally:
            if direct:
                self.pop_request()
                _task_stack.pop()
