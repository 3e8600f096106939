"""GenTrade's Celery tasks. :data:`TASK_MODULES` lists the modules a worker imports."""

from __future__ import annotations

#: Task modules the Celery app includes (a worker imports them at start).
TASK_MODULES: list[str] = ["app.tasks.backtests", "app.tasks.examples"]
