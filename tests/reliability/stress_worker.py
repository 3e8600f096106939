"""The worker app of the reliability suite: the GenTrade app plus :mod:`stress_tasks`
(``celery -A tests.reliability.stress_worker worker``)."""

from __future__ import annotations

from app.celery.factory import create_celery_app
from app.tasks import TASK_MODULES

app = create_celery_app(include=[*TASK_MODULES, "tests.reliability.stress_tasks"])
