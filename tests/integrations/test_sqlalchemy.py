"""agent_tracing.sqlalchemy: queries, failures, transactions and lost connections as lines."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from syrupy.assertion import SnapshotAssertion

import agent_tracing as at
from agent_tracing import sqlalchemy as at_sa
from agent_tracing.sqlalchemy import instrument_engine, is_instrumented, uninstrument_engine
from agent_tracing.testing import CapturedEvents

SECRET = "hunter2-very-secret"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEyMyJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"

metadata = MetaData()
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(100), unique=True, nullable=False),
    Column("password", String(100)),
    Column("note", String(200)),
)


def _sqlite_engine(tmp_path: Path, **kwargs: Any) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'test.db'}")
    instrument_engine(engine, **kwargs)
    return engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An instrumented SQLite file engine with the ``accounts`` table."""
    engine = _sqlite_engine(tmp_path)
    with engine.begin() as conn:
        metadata.create_all(conn)
    try:
        yield engine
    finally:
        uninstrument_engine(engine)
        engine.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    """An instrumented PostgreSQL engine in a schema of its own (dropped after the test)."""
    schema = f"at_sqla_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    with engine.begin() as conn:
        metadata.create_all(conn)
    instrument_engine(engine)
    try:
        yield engine
    finally:
        uninstrument_engine(engine)
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _sql_lines(log_events: CapturedEvents) -> list[dict[str, Any]]:
    return [e for e in log_events.events if (e["event"] or "").startswith("db.")]


def _assert_no_secret(log_events: CapturedEvents, *secrets: str) -> None:
    text_ = json.dumps(log_events.raw)
    for secret in secrets:
        assert secret not in text_


def _queries_with_secrets(engine: Engine) -> None:
    with at.bind(correlation_id=at.new_correlation_id(), user_id="user_123"):
        with engine.begin() as conn:
            conn.execute(
                insert(accounts),
                [
                    {"email": "a@example.com", "password": SECRET, "note": JWT},
                    {"email": "b@example.com", "password": SECRET, "note": "plain"},
                ],
            )
            conn.execute(select(accounts.c.id).where(accounts.c.password == SECRET))
            conn.execute(
                text("SELECT id FROM accounts WHERE email = :email AND note = :note"),
                {"email": "a@example.com", "note": JWT},
            )


def test_sqlite_queries_are_logged_with_redacted_parameters(
    sqlite_engine: Engine, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """Each query is a DEBUG db.query line with its parameters; secrets by name or value never
    appear."""
    log_events.clear()
    _queries_with_secrets(sqlite_engine)
    queries = log_events.by_event("db.query")
    assert len(queries) == 3
    assert all(q["level"] == "DEBUG" and q["component"] == "sqlalchemy" for q in queries)
    assert all(isinstance(q["data"]["duration_ms"], float) for q in queries)
    assert queries[1]["data"]["parameters"]["password_1"] == "[REDACTED]"
    assert queries[2]["data"]["parameters"]["email"] == "a@example.com"
    _assert_no_secret(log_events, SECRET, JWT)
    assert _sql_lines(log_events) == snapshot


def test_postgres_queries_are_logged_with_redacted_parameters(
    pg_engine: Engine, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """PostgreSQL (psycopg 3): the same lines, parameters named and redacted."""
    log_events.clear()
    _queries_with_secrets(pg_engine)
    queries = log_events.by_event("db.query")
    assert len(queries) == 3
    _assert_no_secret(log_events, SECRET, JWT)
    assert _sql_lines(log_events) == snapshot


def _fail_unique(engine: Engine) -> None:
    with at.bind(correlation_id=at.new_correlation_id()), engine.begin() as conn:
        conn.execute(insert(accounts), {"email": "dup@example.com", "password": SECRET})
        conn.execute(insert(accounts), {"email": "dup@example.com", "password": SECRET})


def test_sqlite_failed_query_is_logged_at_error_and_raised(
    sqlite_engine: Engine, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """A failing statement: one ERROR db.query.error line with the exception, then rollback; the
    caller still gets SQLAlchemy's exception."""
    log_events.clear()
    with pytest.raises(IntegrityError):
        _fail_unique(sqlite_engine)
    [error] = log_events.by_event("db.query.error")
    assert error["level"] == "ERROR"
    assert error["exception"]["type"] == "sqlite3.IntegrityError"
    assert error["data"]["parameters"]["password"] == "[REDACTED]"
    assert [e["event"] for e in log_events.raw[log_events.raw.index(error) + 1 :]] == [
        "db.transaction.rollback"
    ]
    _assert_no_secret(log_events, SECRET)
    assert _sql_lines(log_events) == snapshot


def test_postgres_failed_query_is_logged_at_error_and_raised(
    pg_engine: Engine, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """PostgreSQL: a unique violation is an ERROR line with the driver's exception."""
    log_events.clear()
    with pytest.raises(IntegrityError):
        _fail_unique(pg_engine)
    [error] = log_events.by_event("db.query.error")
    assert error["exception"]["type"] == "psycopg.errors.UniqueViolation"
    _assert_no_secret(log_events, SECRET)
    assert _sql_lines(log_events) == snapshot


def test_transaction_begin_commit_rollback_and_savepoints(
    sqlite_engine: Engine, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """begin / commit / rollback and savepoints are DEBUG lines, the ends with a duration."""
    log_events.clear()
    with sqlite_engine.connect() as conn:
        with conn.begin():
            conn.execute(insert(accounts), {"email": "c@example.com"})
        trans = conn.begin()
        conn.execute(insert(accounts), {"email": "d@example.com"})
        nested = conn.begin_nested()
        conn.execute(insert(accounts), {"email": "e@example.com"})
        nested.rollback()
        nested = conn.begin_nested()
        nested.commit()
        trans.rollback()
    events = [e["event"] for e in log_events.raw]
    assert [e for e in events if e] == [
        "db.transaction.begin",
        "db.query",
        "db.transaction.commit",
        "db.transaction.begin",
        "db.query",
        "db.savepoint.begin",
        "db.query",  # SAVEPOINT sa_savepoint_1
        "db.query",
        "db.savepoint.rollback",
        "db.query",  # ROLLBACK TO SAVEPOINT
        "db.savepoint.begin",
        "db.query",
        "db.savepoint.release",
        "db.query",  # RELEASE SAVEPOINT
        "db.transaction.rollback",
    ]
    commit = log_events.by_event("db.transaction.commit")[0]
    assert commit["data"]["duration_ms"] >= 0
    assert _sql_lines(log_events) == snapshot


def test_lost_sqlite_connection_is_critical(
    sqlite_engine: Engine, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """Closing the SQLite handle under a live connection: the next query is a CRITICAL
    db.connection.lost line and SQLAlchemy marks the connection invalidated."""
    log_events.clear()
    with sqlite_engine.connect() as conn:
        conn.execute(select(accounts.c.id))
        conn.connection.dbapi_connection.close()  # type: ignore[union-attr]
        with pytest.raises(DBAPIError) as raised:
            conn.execute(select(accounts.c.id))
    assert raised.value.connection_invalidated
    [lost] = log_events.by_event("db.connection.lost")
    assert lost["level"] == "CRITICAL"
    assert lost["exception"]["type"] == "sqlite3.ProgrammingError"
    assert _sql_lines(log_events) == snapshot


def test_lost_postgres_connection_is_critical(
    pg_engine: Engine, postgres_url: str, log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """pg_terminate_backend from a second connection: the next query on the first is a CRITICAL
    db.connection.lost line."""
    killer = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with pg_engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            conn.commit()
            log_events.clear()
            with killer.connect() as kconn:
                assert kconn.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
                ).scalar_one()
            with pytest.raises(OperationalError) as raised:
                conn.execute(select(accounts.c.id))
        assert raised.value.connection_invalidated
    finally:
        killer.dispose()
    lost = [e for e in log_events.raw if e["event"] == "db.connection.lost"]
    assert [e["level"] for e in lost] == ["CRITICAL"]
    assert lost[0]["exception"]["type"].startswith("psycopg.")
    assert [e for e in _sql_lines(log_events) if e["event"] == "db.connection.lost"] == snapshot


def test_postgres_pre_ping_finding_a_dead_connection_is_a_warning(
    postgres_url: str, log_events: CapturedEvents
) -> None:
    """With pool_pre_ping, a connection killed while idle in the pool is replaced: WARNING
    db.connection.stale, no CRITICAL line, the query succeeds."""
    engine = create_engine(postgres_url, pool_pre_ping=True, pool_size=1)
    killer = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    instrument_engine(engine)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with killer.connect() as kconn:
            kconn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        log_events.clear()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        uninstrument_engine(engine)
        engine.dispose()
        killer.dispose()
    assert [e["level"] for e in log_events.by_event("db.connection.stale")] == ["WARNING"]
    assert [e for e in log_events.raw if e["level"] == "CRITICAL"] == []


def test_failed_connect_is_critical(log_events: CapturedEvents) -> None:
    """A database that cannot be reached: CRITICAL db.connection.failed, the password in the URL
    never logged."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = create_engine(
        f"postgresql+psycopg://gentrade:{SECRET}@127.0.0.1:{port}/app",
        connect_args={"connect_timeout": 2},
    )
    instrument_engine(engine)
    try:
        with pytest.raises(OperationalError), engine.connect():
            pass
    finally:
        uninstrument_engine(engine)
        engine.dispose()
    [failed] = log_events.by_event("db.connection.failed")
    assert failed["level"] == "CRITICAL"
    assert failed["data"]["dialect"] == "postgresql"
    _assert_no_secret(log_events, SECRET)


def test_query_lines_carry_the_context_and_span(
    sqlite_engine: Engine, log_events: CapturedEvents
) -> None:
    """Lines logged inside a span carry its ids and the bound context, with our component."""
    with (
        at.bind(correlation_id="cid-1", user_id="user_1", strategy_id=7),
        at.span("load", kind="service", component="StrategiesService") as sp,
        sqlite_engine.connect() as conn,
    ):
        conn.execute(select(accounts.c.id))
    [query] = log_events.by_event("db.query")
    assert ("cid-1", "user_1", 7, sp.span_id, "sqlalchemy") == (
        query["correlation_id"],
        query["user_id"],
        query["strategy_id"],
        query["span_id"],
        query["component"],
    )


def test_instrumenting_twice_is_a_no_op_and_uninstrument_mirrors_it(
    tmp_path: Path, log_events: CapturedEvents
) -> None:
    """A second instrument_engine does nothing (no double lines); uninstrument removes every
    listener, and a second uninstrument does nothing."""
    engine = _sqlite_engine(tmp_path)
    assert not instrument_engine(engine)
    assert is_instrumented(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert len(log_events.by_event("db.query")) == 1
    assert uninstrument_engine(engine)
    assert not uninstrument_engine(engine)
    assert not is_instrumented(engine)
    log_events.clear()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert log_events.raw == []
    assert instrument_engine(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert len(log_events.by_event("db.query")) == 1
    uninstrument_engine(engine)
    engine.dispose()


def test_async_engine_is_instrumented_through_its_sync_engine(
    tmp_path: Path, log_events: CapturedEvents
) -> None:
    """An AsyncEngine (aiosqlite): queries and transactions logged with the caller's context."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'async.db'}")
    assert instrument_engine(engine)
    assert is_instrumented(engine.sync_engine)

    async def run() -> None:
        with at.bind(correlation_id="cid-async", backtest_id=9):
            async with engine.begin() as conn:
                await conn.execute(text("SELECT :token AS t"), {"token": SECRET})
        await engine.dispose()

    asyncio.run(run())
    assert uninstrument_engine(engine)
    events = [
        (e["event"], e["correlation_id"], e["backtest_id"])
        for e in log_events.raw
        if (e["event"] or "").startswith("db.")
    ]
    assert events == [
        ("db.transaction.begin", "cid-async", 9),
        ("db.query", "cid-async", 9),
        ("db.transaction.commit", "cid-async", 9),
    ]
    # aiosqlite's own DEBUG logger prints the raw cursor call (parameters included): only our
    # lines are ours to vouch for (the app keeps ``aiosqlite`` at INFO).
    ours = [e for e in log_events.raw if e["logger"] == "agent_tracing.sqlalchemy"]
    assert SECRET not in json.dumps(ours)


def test_options_slow_query_and_parameters_off(tmp_path: Path, log_events: CapturedEvents) -> None:
    """slow_query_ms adds a WARNING db.query.slow; log_parameters=False keeps only the count;
    redact_parameters and component apply."""
    engine = _sqlite_engine(
        tmp_path, slow_query_ms=0, component="gentrade-db", redact_parameters=["note"]
    )
    with engine.connect() as conn:
        conn.execute(text("SELECT :note, :other"), {"note": "private", "other": "shown"})
    uninstrument_engine(engine)
    [query] = log_events.by_event("db.query")
    [slow] = log_events.by_event("db.query.slow")
    assert query["data"]["parameters"] == {"note": "[REDACTED]", "other": "shown"}
    assert (
        slow["level"],
        slow["data"]["threshold_ms"],
        slow["component"],
    ) == ("WARNING", 0, "gentrade-db")
    engine.dispose()

    quiet = _sqlite_engine(tmp_path, log_parameters=False)
    log_events.clear()
    with quiet.connect() as conn:
        conn.execute(text("SELECT :a"), {"a": 1})
        conn.exec_driver_sql("CREATE TABLE numbers (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO numbers VALUES (?)", [(1,), (2,)])
    uninstrument_engine(quiet)
    quiet.dispose()
    queries = log_events.by_event("db.query")
    assert [q["data"].get("parameter_sets") for q in queries] == [None, None, 2]
    assert all("parameters" not in q["data"] for q in queries)


def test_a_failing_listener_never_reaches_sqlalchemy(
    sqlite_engine: Engine, log_events: CapturedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the instrumentation itself breaks, queries still run; one WARNING says so, once."""

    def broken() -> Any:
        raise RuntimeError("broken sanitizer")

    monkeypatch.setattr(at_sa.names, "get_sanitizer", broken)
    log_events.clear()
    with sqlite_engine.connect() as conn:
        for _ in range(3):
            assert conn.execute(select(accounts.c.id).where(accounts.c.email == "x")).all() == []
    assert [e["event"] for e in log_events.raw if e["level"] == "WARNING"] == [
        "db.instrumentation.error"
    ]


def test_debug_off_skips_query_lines_but_keeps_errors(
    sqlite_engine: Engine, log_events: CapturedEvents
) -> None:
    """With the logger above DEBUG, successful queries cost no line; failures still log."""
    import logging

    logger = logging.getLogger("agent_tracing.sqlalchemy")
    logger.setLevel(logging.INFO)
    try:
        with sqlite_engine.connect() as conn:
            conn.execute(select(accounts.c.id))
            with pytest.raises(OperationalError):
                conn.execute(text("SELECT * FROM missing"))
    finally:
        logger.setLevel(logging.NOTSET)
    assert [e["event"] for e in log_events.raw] == ["db.query.error"]


def test_redact_keys_of_configure_logging_apply_to_numbered_binds(
    sqlite_engine: Engine, log_events: CapturedEvents, tmp_path: Path
) -> None:
    """A key added by configure_logging(redact_keys=...) after the engine was instrumented also
    redacts SQLAlchemy's numbered bind of that column (``iban_1``)."""
    with sqlite_engine.connect() as conn:
        conn.execute(text("SELECT :iban_1"), {"iban_1": "DE00-first"})
    at.configure_logging(
        redact_keys=["iban"], level="DEBUG", console=False, json_output=str(tmp_path / "o.jsonl")
    )
    with sqlite_engine.connect() as conn:
        conn.execute(text("SELECT :iban_1"), {"iban_1": "DE00-second"})
    params = [q["data"]["parameters"]["iban_1"] for q in log_events.by_event("db.query")]
    assert params == ["DE00-first", "[REDACTED]"]
