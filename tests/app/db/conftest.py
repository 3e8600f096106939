"""Database fixtures: a fresh SQLite file, or a PostgreSQL schema of its own, per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.db.session import Database, create_db_engine
from app.settings import Settings


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """The app's database on a SQLite file under ``tmp_path``, tables created."""
    settings = Settings(data_dir=tmp_path)
    database = Database(create_db_engine(settings))
    database.create_all()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def pg_db(postgres_url: str, tmp_path: Path) -> Iterator[Database]:
    """The app's database on PostgreSQL, in a schema of its own dropped after the test."""
    schema = f"at_app_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    database = Database(create_db_engine(Settings(data_dir=tmp_path), url=url))
    database.create_all()
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """Each test using it runs on SQLite and on PostgreSQL."""
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    database: Database = request.getfixturevalue(name)
    return database
