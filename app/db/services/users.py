"""UsersService: the local row of a Clerk user, created on first use."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from app.db.models import User
from app.db.repositories import UsersRepository
from app.db.services.base import Service
from app.util.logger import setup_logger

__all__ = ["UsersService", "ensure_user"]


def ensure_user(session: Session, clerk_id: str, email: str | None = None) -> User:
    """Return the user with ``clerk_id`` in ``session``'s transaction, inserting it when new."""
    repo = UsersRepository(session)
    user = repo.get_by_clerk_id(clerk_id)
    if user is None:
        user = repo.add(User(clerk_id=clerk_id, email=email))
        UsersService.log.info(
            "User created", event="user.created", data={"id": user.id}, user_id=clerk_id
        )
    return user


class UsersService(Service):
    """Users known by their Clerk id (the JWT subject); rows are created on first use."""

    component = "UsersService"
    log = setup_logger(__name__, component=component)

    def ensure_user(self, clerk_id: str, email: str | None = None) -> User:
        """Return the user with this Clerk id, creating its row the first time."""
        with self.span("ensure_user", level=logging.DEBUG, user_id=clerk_id):
            with self.sessions.begin() as session:
                return ensure_user(session, clerk_id, email)
