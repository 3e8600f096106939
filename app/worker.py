"""The worker entry point: ``celery -A app.worker worker --loglevel INFO``.

Broker and result backend come from ``CELERY_BROKER_URL`` / ``CELERY_RESULT_BACKEND`` (default:
the embedded filesystem broker under ``CELERY_DATA_DIR``); the worker's logging from the
``AGENT_TRACING_*`` variables (e.g. ``AGENT_TRACING_JSON_OUTPUT=logs/worker.jsonl``).
"""

from __future__ import annotations

from app.celery.factory import create_celery_app

celery_app = create_celery_app()
app = celery_app  # ``celery -A app.worker`` looks for ``app`` or ``celery``
