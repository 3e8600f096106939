"""Services: one unit of work per method, traced by a ``service`` span, logging its events."""

from app.db.services.backtests import BacktestsService
from app.db.services.errors import NotFoundError, ServiceError, StateError
from app.db.services.strategies import StrategiesService
from app.db.services.users import UsersService

__all__ = [
    "BacktestsService",
    "NotFoundError",
    "ServiceError",
    "StateError",
    "StrategiesService",
    "UsersService",
]
