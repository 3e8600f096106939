"""``create_celery_app``: the GenTrade Celery app, with tracing and the worker's logging on.

Defaults come from :mod:`app.settings` (the web process reads the same ones, so both sides agree).
The broker comes from ``CELERY_BROKER_URL`` (Redis ``redis://...``, RabbitMQ ``amqp://...``), and
without one it is the embedded filesystem broker in ``CELERY_DATA_DIR`` (default
``<GENTRADE_DATA_DIR>/celery``), which needs no server (see :mod:`app.celery.broker`). The result
backend comes from ``CELERY_RESULT_BACKEND``; without one it is the Redis broker itself for a Redis
broker, and files under ``CELERY_DATA_DIR/results`` otherwise. ``CELERY_TASK_DEFAULT_QUEUE`` names
the queue tasks go to and the worker reads (default ``celery``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from celery import Celery

from agent_tracing.celery import instrument_celery, is_instrumented
from app.celery.broker import TRANSPORT, transport_options
from app.settings import Settings
from app.tasks import TASK_MODULES

__all__ = ["EMBEDDED_BROKER_URL", "create_celery_app", "is_embedded"]

#: The embedded broker's URL (``filesystem://`` is accepted too).
EMBEDDED_BROKER_URL = "filesystem://localhost//"


def is_embedded(broker_url: str) -> bool:
    """Whether ``broker_url`` names the embedded filesystem broker."""
    return broker_url.startswith("filesystem://")


def create_celery_app(
    name: str = "gentrade",
    *,
    broker_url: str | None = None,
    result_backend: str | None = None,
    data_dir: str | None = None,
    include: Sequence[str] | None = None,
    logging_options: Mapping[str, Any] | None = None,
    **settings: Any,
) -> Celery:
    """Return a configured Celery app, with :func:`agent_tracing.celery.instrument_celery` on.

    Instrumentation is process-wide: when the process is already instrumented,
    ``logging_options`` of a later app are not applied (uninstrument first to change them).

    Args:
        name: The app's main name.
        broker_url: Overrides the settings' ``CELERY_BROKER_URL``; default the embedded broker.
        result_backend: Overrides ``CELERY_RESULT_BACKEND``.
        data_dir: Overrides ``CELERY_DATA_DIR`` (embedded broker and file results).
        include: Task modules to import (default :data:`app.tasks.TASK_MODULES`).
        logging_options: ``configure_logging`` arguments used when a worker starts (the
            ``AGENT_TRACING_*`` environment variables fill in the rest).
        **settings: Any other Celery setting (``task_default_queue="backtests"``...).
    """
    # Read afresh (not the cached settings) so a changed environment is seen, as in tests.
    defaults = Settings.from_env()
    broker = broker_url or defaults.celery_broker_url.get_secret_value() or EMBEDDED_BROKER_URL
    if broker == "filesystem://":
        broker = EMBEDDED_BROKER_URL  # with a host, kombu does not warn on every connection
    folder = os.path.abspath(
        data_dir or os.environ.get("CELERY_DATA_DIR") or defaults.data_dir / "celery"
    )
    backend = result_backend or os.environ.get("CELERY_RESULT_BACKEND")
    if not backend:
        if broker.startswith(("redis://", "rediss://")):
            backend = broker
        else:
            results = os.path.join(folder, "results")
            os.makedirs(results, exist_ok=True)
            backend = f"file://{results}"
    app = Celery(name, broker=broker, backend=backend, include=list(include or TASK_MODULES))
    conf: dict[str, Any] = {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 3600,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
    }
    if is_embedded(broker):
        conf["broker_transport"] = TRANSPORT
        conf["broker_transport_options"] = transport_options(os.path.join(folder, "broker"))
    queue = os.environ.get("CELERY_TASK_DEFAULT_QUEUE")
    if queue:
        # A queue of one's own on a shared broker (tests, several developers on one Redis).
        conf["task_default_queue"] = queue
    conf.update(settings)
    app.conf.update(conf)
    if not is_instrumented():
        # Signals are process-wide: the first app instruments the process (a second app in the
        # same process, as in tests, shares it).
        instrument_celery(app, logging_options=logging_options)
    return app
