"""Users by Clerk id."""

from __future__ import annotations

from sqlalchemy import select

from app.db.models import User
from app.db.repositories.base import Repository
from app.util.logger import setup_logger

__all__ = ["UsersRepository"]


class UsersRepository(Repository):
    """Queries of the ``users`` table."""

    log = setup_logger(__name__, component="UsersRepository")

    def get_by_clerk_id(self, clerk_id: str) -> User | None:
        """The user with this Clerk id, or ``None``."""
        return self.session.scalars(select(User).where(User.clerk_id == clerk_id)).one_or_none()

    def add(self, user: User) -> User:
        """Insert ``user`` (its id is set on return)."""
        return self._add(user)
