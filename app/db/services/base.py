"""What every service shares: a unit of work per method, traced by a ``service`` span.

A method runs inside :meth:`Service.span`: a core span of kind ``service`` named
``<Component>.<method>`` whose lines carry the component. Ids learnt during the method
(``strategy_id`` after an insert) are bound with :meth:`ServiceSpan.bind` for the rest of the
method, and the span's end line carries them too. A refused request (:class:`ServiceError`) ends
the span at WARNING with its status; any other exception ends it at ERROR with the traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import Token
from types import TracebackType
from typing import Any, ClassVar

from sqlalchemy.orm import Session, sessionmaker

import agent_tracing as at
from app.db.services.errors import ServiceError

__all__ = ["Service", "ServiceSpan"]


class ServiceSpan:
    """A ``service`` span that can bind ids learnt inside it (see the module docstring)."""

    def __init__(self, name: str, log: at.BoundLogger, level: int, **fields: Any) -> None:
        self._span = at.Span(name, kind="service", logger=log, level=level, **fields)
        self._tokens: list[Token[Mapping[str, Any]]] = []
        self._ids: dict[str, Any] = {}

    @property
    def span_id(self) -> str | None:
        """The span's id (set once entered)."""
        return self._span.span_id

    def bind(self, **ids: Any) -> None:
        """Bind ``ids`` (``strategy_id=7``) for the rest of the span, its end line included."""
        self._tokens.append(at.bind_contextvars(**ids))
        self._ids.update(ids)

    def set(self, **data: Any) -> None:
        """Add ``data`` to the span's end line."""
        self._span.set(**data)

    def __enter__(self) -> ServiceSpan:
        self._span.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Our bindings were made inside the span: undo them first (tokens are reset in reverse),
        # then let the span reset its own; the end line gets the ids through its logger.
        while self._tokens:
            at.reset_contextvars(self._tokens.pop())
        if self._ids:
            self._span.logger = self._span.logger.bind(**self._ids)
        if isinstance(exc, ServiceError):
            self._span.finish(
                status=exc.status,
                level=logging.WARNING,
                message=f"{self._span.name} refused: {exc}",
                data={"error_type": type(exc).__name__, "error": str(exc)},
            )
        else:
            self._span.finish(exc)


class Service:
    """Base of the services: a session factory and a logger named for the component.

    Args:
        sessions: Where sessions come from (default: the process's database).
    """

    component: ClassVar[str]
    log: ClassVar[at.BoundLogger]

    def __init__(self, sessions: sessionmaker[Session] | None = None) -> None:
        if sessions is None:
            from app.db.session import get_session_factory

            sessions = get_session_factory()
        self.sessions = sessions

    def span(self, method: str, *, level: int = logging.INFO, **fields: Any) -> ServiceSpan:
        """A ``service`` span for ``method``, binding ``fields`` and this component."""
        return ServiceSpan(
            f"{self.component}.{method}",
            self.log,
            level,
            component=self.component,
            **{key: value for key, value in fields.items() if value is not None},
        )
