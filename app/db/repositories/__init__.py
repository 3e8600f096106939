"""Repositories: the queries of each table, on a session the caller owns (no commit here)."""

from app.db.repositories.backtests import BacktestsRepository
from app.db.repositories.strategies import StrategiesRepository
from app.db.repositories.users import UsersRepository

__all__ = ["BacktestsRepository", "StrategiesRepository", "UsersRepository"]
