"""Errors a service raises for a request it refuses (the API maps them to HTTP statuses)."""

from __future__ import annotations

__all__ = ["NotFoundError", "ServiceError", "StateError"]


class ServiceError(Exception):
    """A request the service refuses; ``status`` names the outcome on the service span's end."""

    status = "rejected"
    http_status = 400


class NotFoundError(ServiceError, LookupError):
    """The row does not exist, or belongs to another user."""

    status = "not_found"
    http_status = 404


class StateError(ServiceError):
    """The row is not in a state that allows the operation (a finished backtest restarted)."""

    status = "conflict"
    http_status = 409
