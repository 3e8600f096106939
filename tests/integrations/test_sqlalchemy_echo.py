"""SQLAlchemy's own echo lines (echo=True, sqlalchemy.engine at INFO) never show secret values."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Integer,
    String,
    bindparam,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session

from agent_tracing.sqlalchemy import (
    install_echo_redaction,
    instrument_engine,
    is_echo_redaction_installed,
    uninstall_echo_redaction,
    uninstrument_engine,
)
from agent_tracing.sqlalchemy.names import _statement_names, is_secret_name
from agent_tracing.testing import CapturedEvents

SECRETS = ("HASH-v4lue-1", "KEY-v4lue-2", "s3cret-pw", "k3y-value", "t0ken-value", "WHERE-pw")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
    password = Column(String(100))
    password_hash = Column(String(100))
    api_key = Column(String(100))
    token = Column(String(100))


@pytest.fixture
def redaction() -> Iterator[None]:
    """Echo redaction installed for the test only."""
    was = is_echo_redaction_installed()
    install_echo_redaction()
    try:
        yield
    finally:
        if not was:
            uninstall_echo_redaction()


@pytest.fixture
def sqlite_echo(redaction: None) -> Iterator[Engine]:
    """A plain (not instrumented) SQLite engine with echo=True and the users table."""
    engine = create_engine("sqlite://", echo=True)
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def pg_echo(postgres_url: str, redaction: None) -> Iterator[Engine]:
    """A plain PostgreSQL engine with echo=True in a schema of its own."""
    schema = f"at_echo_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(
        postgres_url, echo=True, connect_args={"options": f"-csearch_path={schema}"}
    )
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _statements(engine: Engine) -> None:
    """Text, ORM (one row, several rows), Core executemany and a WHERE on a secret column."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET password_hash=:password_hash, api_key=:api_key WHERE id=:id"),
            {"password_hash": "HASH-v4lue-1", "api_key": "KEY-v4lue-2", "id": 1},
        )
        conn.execute(
            insert(User),
            [
                {"name": "core-a", "token": "t0ken-value"},
                {"name": "core-b", "token": "t0ken-value"},
            ],
        )
    with Session(engine) as session:
        session.add(
            User(name="bob", password="s3cret-pw", api_key="k3y-value", token="t0ken-value")
        )
        session.commit()
        session.add_all(
            [User(name="a", password="s3cret-pw"), User(name="b", password="s3cret-pw")]
        )
        session.commit()
        session.scalars(select(User.id).where(User.password == "WHERE-pw")).all()


def _engine_lines(log_events: CapturedEvents) -> list[str]:
    return [line["message"] for line in log_events.raw if line["logger"].startswith("sqlalchemy")]


def _assert_redacted(log_events: CapturedEvents) -> list[str]:
    lines = _engine_lines(log_events)
    parameter_lines = [m for m in lines if m.startswith("[") and ("(" in m or "{" in m)]
    assert parameter_lines
    dumped = json.dumps(log_events.raw)
    assert [s for s in SECRETS if s in dumped] == []
    return lines


def test_sqlite_echo_lines_show_no_secret_value(
    sqlite_echo: Engine, log_events: CapturedEvents
) -> None:
    """SQLite (positional ?): text(), ORM and executemany parameter lines redact secret columns,
    in the lines our handlers get and in a handler on the engine's own logger (where echo=True
    puts its stdout handler)."""
    stream = io.StringIO()
    own = logging.StreamHandler(stream)
    engine_logger = logging.getLogger("sqlalchemy.engine.Engine")
    engine_logger.addHandler(own)
    log_events.clear()
    try:
        _statements(sqlite_echo)
    finally:
        engine_logger.removeHandler(own)
    lines = _assert_redacted(log_events)
    assert any("('[REDACTED]', '[REDACTED]', 1)" in m for m in lines)
    assert any(
        "('bob', '[REDACTED]', '[REDACTED]', '[REDACTED]', '[REDACTED]')" in m for m in lines
    )
    assert any("('[REDACTED]',)" in m for m in lines)  # WHERE users.password = ?
    assert any("('core-a', '[REDACTED]')" in m for m in lines)  # executemany
    out = stream.getvalue()
    assert "INSERT INTO users" in out
    assert [s for s in SECRETS if s in out] == []


def test_postgres_echo_lines_show_no_secret_value(
    pg_echo: Engine, log_events: CapturedEvents
) -> None:
    """PostgreSQL (named %(name)s, insertmanyvalues password__0): the same lines, redacted."""
    log_events.clear()
    _statements(pg_echo)
    lines = _assert_redacted(log_events)
    assert any("'password_hash': '[REDACTED]'" in m for m in lines)
    assert any("'password__0': '[REDACTED]'" in m or "'password': '[REDACTED]'" in m for m in lines)


def test_raw_driver_sql_is_redacted_by_its_columns(
    sqlite_echo: Engine, log_events: CapturedEvents
) -> None:
    """exec_driver_sql with positional values: the INSERT column list and col = ? pairs name
    them."""
    log_events.clear()
    with sqlite_echo.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO users (name, password) VALUES (?, ?)", ("bob", "s3cret-pw")
        )
        conn.exec_driver_sql(
            "UPDATE users SET api_key = ? WHERE name = ? AND token = ?",
            ("k3y-value", "bob", "t0ken-value"),
        )
    lines = _assert_redacted(log_events)
    assert any("('bob', '[REDACTED]')" in m for m in lines)
    assert any("('[REDACTED]', 'bob', '[REDACTED]')" in m for m in lines)


def test_the_sqlalchemy_engine_logger_at_info_is_covered(
    redaction: None, log_events: CapturedEvents
) -> None:
    """No echo flag, the sqlalchemy.engine logger at INFO (AGENT_TRACING_LEVELS): redacted."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    logger = logging.getLogger("sqlalchemy.engine")
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        log_events.clear()
        _statements(engine)
    finally:
        logger.setLevel(previous)
        engine.dispose()
    _assert_redacted(log_events)


def test_a_named_engine_logs_on_its_own_logger_redacted(
    redaction: None, log_events: CapturedEvents
) -> None:
    """logging_name puts the lines on a child logger: it gets the filter too."""
    engine = create_engine("sqlite://", echo=True, logging_name="billing")
    Base.metadata.create_all(engine)
    log_events.clear()
    _statements(engine)
    engine.dispose()
    assert {"sqlalchemy.engine.Engine.billing"} == {
        line["logger"] for line in log_events.raw if line["logger"].startswith("sqlalchemy")
    }
    _assert_redacted(log_events)


def test_rows_of_secret_columns_are_redacted_at_debug(
    sqlite_echo: Engine, log_events: CapturedEvents
) -> None:
    """echo="debug" logs fetched rows: the values of secret columns are redacted."""
    sqlite_echo.echo = "debug"
    with Session(sqlite_echo) as session:
        session.add(User(name="bob", password="s3cret-pw", api_key="k3y-value"))
        session.commit()
        log_events.clear()
        session.execute(select(User.name, User.password, User.api_key)).all()
    rows = [m for m in _engine_lines(log_events) if m.startswith("Row ")]
    assert rows == ["Row ('bob', '[REDACTED]', '[REDACTED]')"]
    _assert_no_secret = [s for s in SECRETS if s in json.dumps(log_events.raw)]
    assert _assert_no_secret == []


def test_instrument_engine_installs_it(log_events: CapturedEvents) -> None:
    """An instrumented engine's echo lines are redacted without another call, including the
    names of its redact_parameters."""
    was = is_echo_redaction_installed()
    uninstall_echo_redaction()
    engine = create_engine("sqlite://", echo=True)
    Base.metadata.create_all(engine)
    instrument_engine(engine, redact_parameters=["name"])
    try:
        assert is_echo_redaction_installed()
        log_events.clear()
        with engine.begin() as conn:
            conn.execute(insert(User), {"name": "private-name", "password": "s3cret-pw"})
        messages = _engine_lines(log_events)
        assert any("('[REDACTED]', '[REDACTED]')" in m for m in messages)
        assert "private-name" not in json.dumps(log_events.raw)
    finally:
        uninstrument_engine(engine)
        engine.dispose()
        if not was:
            uninstall_echo_redaction()


@pytest.mark.parametrize(
    ("statement", "count", "expected"),
    [
        ("INSERT INTO users (name, password) VALUES (?, ?)", 2, ["name", "password"]),
        ('INSERT INTO "users" ("name", "api_key") VALUES ($1, $2)', 2, ["name", "api_key"]),
        ("INSERT INTO t (a, token) VALUES (?, ?), (?, ?)", 4, ["a", "token", "a", "token"]),
        ("UPDATE t SET password = %s WHERE t.id = %s", 2, ["password", "id"]),
        ("SELECT 1 FROM t WHERE note = '?' AND secret = ?", 1, ["secret"]),
        ("SELECT lower(?) FROM t", 1, [None]),
        ("SELECT 1 FROM t WHERE password IN (?, ?) OR n IN (?)", 3, ["password", "password", "n"]),
        ("SELECT ? FROM t", 2, None),
    ],
)
def test_statement_names(statement: str, count: int, expected: list[str | None] | None) -> None:
    """Raw SQL: each placeholder gets the column it is bound to, or None; quotes are skipped."""
    assert expected == _statement_names(statement, count)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("password_1", True),
        ("password__0", True),
        ("password_1_1", True),
        ("users.password_hash", True),
        ("api_key_digest", True),
        ("token", True),
        ("name", False),
        ("id_1", False),
        ("hash", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    """Numbered binds and derived columns (password_hash) are as secret as their column."""
    assert secret == is_secret_name(name)


def _duplicate(engine: Engine) -> str:
    """Insert a duplicate name (a unique violation) with secrets; return the exception text."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS accounts (name TEXT UNIQUE, password TEXT)"))
        conn.execute(text("INSERT INTO accounts (name, password) VALUES ('bob', 'x')"))
    with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
        conn.execute(
            text("INSERT INTO accounts (name, password) VALUES (:name, :password)"),
            {"name": "bob", "password": "s3cret-pw"},
        )
    return str(raised.value)


def test_sqlite_exception_text_shows_no_secret_parameter(sqlite_echo: Engine) -> None:
    """A failed statement's exception ([parameters: ...] in its text, logged with the error)
    shows the secret value redacted and the others as they were."""
    message = _duplicate(sqlite_echo)
    assert "[parameters: ('bob', '[REDACTED]')]" in message
    assert "s3cret-pw" not in message


def test_postgres_exception_text_shows_no_secret_parameter(pg_echo: Engine) -> None:
    """PostgreSQL (named parameters): the exception text redacts the secret value."""
    message = _duplicate(pg_echo)
    assert "'password': '[REDACTED]'" in message
    assert "s3cret-pw" not in message


def test_the_reference_app_engine_has_it(tmp_path: Path) -> None:
    """The app's engine (app.db.session.create_db_engine) is instrumented, so its echo lines
    are redacted with no call of its own."""
    from app.db.session import create_db_engine

    was = is_echo_redaction_installed()
    uninstall_echo_redaction()
    engine = create_db_engine(url=f"sqlite:///{tmp_path / 'app.db'}")
    try:
        assert is_echo_redaction_installed()
    finally:
        uninstrument_engine(engine)
        engine.dispose()
        if not was:
            uninstall_echo_redaction()


def _unrelated_bind_names(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET password = :p, name = :n WHERE token = :t"),
            {"p": "s3cret-pw", "n": "bob", "t": "t0ken-value"},
        )


def test_sqlite_bind_names_unlike_their_columns(
    sqlite_echo: Engine, log_events: CapturedEvents
) -> None:
    """text() binds named :p / :t for secret columns: judged by the column too."""
    log_events.clear()
    _unrelated_bind_names(sqlite_echo)
    lines = _assert_redacted(log_events)
    assert any("('[REDACTED]', 'bob', '[REDACTED]')" in m for m in lines)


def test_postgres_bind_names_unlike_their_columns(
    pg_echo: Engine, log_events: CapturedEvents
) -> None:
    """PostgreSQL (named %(p)s): the same, by the column each bind is compared or set to."""
    log_events.clear()
    _unrelated_bind_names(pg_echo)
    lines = _assert_redacted(log_events)
    assert any("{'p': '[REDACTED]', 'n': 'bob', 't': '[REDACTED]'}" in m for m in lines)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_db_query_lines_judge_binds_by_column_too(
    request: pytest.FixtureRequest, log_events: CapturedEvents, backend: str
) -> None:
    """The instrumentation's own db.query line: :p bound to password is redacted as well."""
    engine = request.getfixturevalue("sqlite_echo" if backend == "sqlite" else "pg_echo")
    instrument_engine(engine)
    try:
        log_events.clear()
        _unrelated_bind_names(engine)
    finally:
        uninstrument_engine(engine)
    (query,) = log_events.by_event("db.query")
    assert query["data"]["parameters"] == {"p": "[REDACTED]", "n": "bob", "t": "[REDACTED]"}


def test_in_lists_are_redacted_item_by_item(
    sqlite_echo: Engine, log_events: CapturedEvents
) -> None:
    """ORM in_(), an expanding text() bind and a raw IN (?, ?): every item of a secret column."""
    log_events.clear()
    with sqlite_echo.begin() as conn:
        conn.execute(select(User.id).where(User.password.in_(["s3cret-pw", "WHERE-pw"])))
        conn.execute(
            text("SELECT 1 FROM users WHERE password IN :pw AND name = :n").bindparams(
                bindparam("pw", expanding=True)
            ),
            {"pw": ["s3cret-pw", "WHERE-pw"], "n": "bob"},
        )
        conn.exec_driver_sql(
            "SELECT 1 FROM users WHERE password IN (?, ?) OR name IN (?)",
            ("s3cret-pw", "WHERE-pw", "bob"),
        )
    lines = _assert_redacted(log_events)
    assert sum("('[REDACTED]', '[REDACTED]', 'bob')" in m for m in lines) == 2


def test_async_engine_echo_lines_are_redacted(redaction: None, log_events: CapturedEvents) -> None:
    """An AsyncEngine (aiosqlite) with echo=True: its sync engine's lines, and aiosqlite's own
    DEBUG cursor-call lines (from its thread), are redacted."""
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> None:
        engine = create_async_engine("sqlite+aiosqlite://", echo=True)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.execute(
                text("INSERT INTO users (name, password) VALUES (:n, :p)"),
                {"n": "bob", "p": "s3cret-pw"},
            )
        await engine.dispose()

    log_events.clear()
    asyncio.run(run())
    lines = _assert_redacted(log_events)
    assert any("('bob', '[REDACTED]')" in m for m in lines)
    calls = [line["message"] for line in log_events.raw if line["logger"] == "aiosqlite"]
    assert any("INSERT INTO users" in m and "('bob', '[REDACTED]')" in m for m in calls)
