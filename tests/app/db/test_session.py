"""The engine from the settings: SQLite under the data dir (WAL), instrumented, one per process."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from agent_tracing.sqlalchemy import is_instrumented
from agent_tracing.testing import CapturedEvents
from app.db import session as db_session
from app.db.models import User
from app.db.session import create_db_engine, get_database, reset_database, session_scope
from app.settings import Settings, get_settings


def test_default_engine_is_an_instrumented_sqlite_file_in_wal_mode(tmp_path: Path) -> None:
    """The default URL is a SQLite file under the data dir (created), in WAL mode, instrumented."""
    engine = create_db_engine(Settings(data_dir=tmp_path / "nested"))
    try:
        with engine.connect() as conn:
            mode = conn.execute(text("PRAGMA journal_mode")).scalar_one()
        assert (mode, is_instrumented(engine)) == ("wal", True)
        assert (tmp_path / "nested" / "gentrade.db").exists()
    finally:
        engine.dispose()


def test_process_database_and_session_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_events: CapturedEvents
) -> None:
    """get_database builds one database from the environment with its tables; session_scope
    commits; reset_database disposes of it."""
    monkeypatch.setenv("GENTRADE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        database = get_database()
        assert get_database() is database
        with session_scope() as session:
            session.add(User(clerk_id="user_1"))
        with session_scope() as session:
            assert session.query(User).count() == 1
        [ready] = log_events.by_event("db.ready")
        assert ready["data"]["url"] == f"sqlite:///{tmp_path / 'gentrade.db'}"
    finally:
        reset_database()
        get_settings.cache_clear()
    assert db_session._database is None


def test_the_database_password_never_reaches_a_line(
    postgres_url: str, tmp_path: Path, log_events: CapturedEvents
) -> None:
    """A DATABASE_URL with a password: the db.ready line and the settings show it hidden."""
    url = postgres_url.replace("postgres@", "postgres:hunter2@")
    settings = Settings(data_dir=tmp_path, database_url=SecretStr(url))
    database = db_session.Database(create_db_engine(settings))
    try:
        database.create_all()
    finally:
        database.dispose()
    assert "hunter2" not in str(log_events.raw)
    assert "hunter2" not in (repr(settings) + settings.database_url_safe)
