"""The worker entry point: ``celery -A app.worker worker --loglevel INFO``.

Broker, result backend, database and exchange come from :mod:`app.settings`, as for the API
(``CELERY_BROKER_URL`` / ``CELERY_RESULT_BACKEND``, default the embedded filesystem broker under
``GENTRADE_DATA_DIR``); the worker's logging from the settings' log levels and the
``AGENT_TRACING_*`` variables (e.g. ``AGENT_TRACING_JSON_OUTPUT=logs/worker.jsonl``).
"""

from __future__ import annotations

from app.celery.factory import create_celery_app
from app.settings import get_settings

celery_app = create_celery_app(logging_options=get_settings().logging_options())
app = celery_app  # ``celery -A app.worker`` looks for ``app`` or ``celery``
