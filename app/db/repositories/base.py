"""What every repository shares: the session and the DEBUG line of each write."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from agent_tracing import BoundLogger
from app.db.models import Base

__all__ = ["Repository"]

M = TypeVar("M", bound=Base)


class Repository:
    """Base of the repositories: holds the session; writes are flushed and logged at DEBUG.

    Args:
        session: The caller's session; the repository never commits (the service owns the
            transaction).
    """

    log: BoundLogger

    def __init__(self, session: Session) -> None:
        self.session = session

    def _add(self, row: M) -> M:
        self.session.add(row)
        self.session.flush()  # the id is known from here on
        self.log.debug(
            "%s row inserted",
            type(row).__name__,
            event="db.row.inserted",
            data={"table": row.__tablename__, "id": getattr(row, "id", None)},
        )
        return row

    def _update(self, row: M, **values: Any) -> M:
        for key, value in values.items():
            setattr(row, key, value)
        self.session.flush()
        self.log.debug(
            "%s row updated",
            type(row).__name__,
            event="db.row.updated",
            data={
                "table": row.__tablename__,
                "id": getattr(row, "id", None),
                "fields": sorted(values),
            },
        )
        return row
