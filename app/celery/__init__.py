"""The GenTrade Celery app: factory, embedded broker and the async task base class."""

from __future__ import annotations

from app.celery.celery_async import AsyncTask
from app.celery.factory import create_celery_app, is_embedded

__all__ = ["AsyncTask", "create_celery_app", "is_embedded"]
