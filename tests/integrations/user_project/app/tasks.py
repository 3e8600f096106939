"""The project's Celery app on Redis, traced by the library."""

import logging
import os

import agent_tracing as at
from agent_tracing.celery import instrument_celery
from celery import Celery

import app.logs  # noqa: F401  (configures logging, once, at import: the worker keeps it)

celery_app = Celery("trial", broker=os.environ["TRIAL_BROKER"])
celery_app.conf.task_default_queue = os.environ["TRIAL_QUEUE"]
celery_app.conf.control_exchange = os.environ["TRIAL_QUEUE"]
celery_app.conf.task_ignore_result = True
instrument_celery(celery_app)

OPTED_OUT = {"mallory"}
log = at.get_logger("app.tasks", component="Notifier")
plain = logging.getLogger("app.tasks.plain")


@celery_app.task(name="trial.notify")
def notify(decision: str, user_id: str) -> str:
    if user_id in OPTED_OUT:
        raise PermissionError(f"{user_id} opted out of notifications")
    log.info("Notifying the user", event="trial.notify", data={"decision": decision})
    plain.info(
        "Plain logger line",
        extra={"user_id": user_id, "data": {"decision": decision}, "channel": "email"},
    )
    return f"notified {user_id}"
