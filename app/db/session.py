"""The engine and the session factory, built from the settings and instrumented for logging.

``get_database()`` returns the process's :class:`Database` (engine + session factory), created on
first use from :func:`app.settings.get_settings`: a SQLite file under the data directory by default
(WAL mode, so the web and worker processes can share it), PostgreSQL when ``DATABASE_URL`` says so.
Its engine is instrumented by :func:`agent_tracing.sqlalchemy.instrument_engine`: queries at DEBUG,
failures at ERROR, a lost connection at CRITICAL, all with the current correlation id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from agent_tracing.sqlalchemy import instrument_engine, uninstrument_engine
from app.db.models import Base
from app.settings import Settings, get_settings
from app.util.logger import setup_logger

__all__ = [
    "Database",
    "create_db_engine",
    "get_database",
    "get_session_factory",
    "reset_database",
    "session_scope",
]

log = setup_logger(__name__, component="Database")


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def create_db_engine(settings: Settings | None = None, *, url: str | None = None) -> Engine:
    """Create the engine for ``url`` (default the settings' ``DATABASE_URL``), instrumented.

    A SQLite file's folder is created; SQLite connections may cross threads (FastAPI runs sync
    routes in a pool) and wait for each other's locks; PostgreSQL connections are pinged before use.
    """
    settings = settings or get_settings()
    raw = url or settings.database_url.get_secret_value()
    parsed = make_url(raw)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    instrument_engine(engine, slow_query_ms=settings.log_sql_slow_ms)
    return engine


class Database:
    """An engine and its session factory (sessions keep loaded values after commit)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)

    def create_all(self) -> None:
        """Create the tables that do not exist yet."""
        Base.metadata.create_all(self.engine)
        log.info(
            "Database ready",
            event="db.ready",
            data={"url": self.engine.url.render_as_string(hide_password=True)},
        )

    def dispose(self) -> None:
        """Close every pooled connection and remove the instrumentation."""
        uninstrument_engine(self.engine)
        self.engine.dispose()


_database: Database | None = None
_lock = threading.Lock()


def get_database(settings: Settings | None = None) -> Database:
    """Return the process's database, created (and its tables) on first use."""
    global _database
    with _lock:
        if _database is None:
            database = Database(create_db_engine(settings))
            database.create_all()
            _database = database
        return _database


def reset_database() -> None:
    """Dispose of the process's database (tests, or after the settings changed)."""
    global _database
    with _lock:
        if _database is not None:
            _database.dispose()
            _database = None


def get_session_factory() -> sessionmaker[Session]:
    """The session factory of :func:`get_database`."""
    return get_database().sessions


@contextmanager
def session_scope(sessions: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """A session in a transaction: committed on success, rolled back on error, then closed."""
    factory = sessions or get_session_factory()
    with factory.begin() as session:
        yield session
