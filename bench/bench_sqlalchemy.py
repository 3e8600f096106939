"""SQLAlchemy benchmark: the cost of one logged query, ours beside SQLAlchemy's own logging.

Every case runs the same ``SELECT ... WHERE id = :id`` on an in-memory SQLite database through one
open connection, a value that changes on every call. Lines go through ``configure_logging`` to a
real JSON file. Cases:

- bare: no instrumentation, no logging (the floor);
- ours: ``instrument_engine`` with DEBUG on (one ``db.query`` line per query);
- echo: SQLAlchemy's own query logging (``sqlalchemy.engine`` at INFO, what ``echo=True`` turns
  on: a statement line and a parameters line per query) into the same JSON view: the anchor;
- ours, DEBUG off: instrumented, the logger at INFO (no line; the cost of being there), beside
  two listeners that do nothing (SQLAlchemy's own event dispatch, the floor of any instrumentation)
  and beside the bare engine.
"""

from __future__ import annotations

import contextvars
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Engine

import agent_tracing as at
from agent_tracing.sqlalchemy import (
    instrument_engine,
    uninstall_echo_redaction,
    uninstrument_engine,
)

CALLS = int(os.environ.get("BENCH_CALLS", "5000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
TMP = tempfile.mkdtemp(prefix="at-bench-sqla-")
CONTEXT = {"correlation_id": "a1b2c3d4-e5f6-7890-1234-567890abcdef", "user_id": "user_123"}

metadata = MetaData()
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(100)),
    Column("password", String(100)),
)


def _engine() -> Engine:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(
            insert(accounts),
            [{"email": f"u{i}@example.com", "password": "x"} for i in range(100)],
        )
    return engine


ENGINES: list[Engine] = []


def _reset() -> None:
    at.shutdown_logging()
    for engine in ENGINES:
        uninstrument_engine(engine)
        engine.dispose()
    ENGINES.clear()
    # The echo redaction is process-wide once an engine was instrumented: the bare cases run
    # without it.
    uninstall_echo_redaction()
    for name in ("sqlalchemy.engine", "sqlalchemy.engine.Engine", "agent_tracing.sqlalchemy"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def _runner(engine: Engine) -> Callable[[int], None]:
    ENGINES.append(engine)
    conn = engine.connect()
    stmt = select(accounts.c.id, accounts.c.email).where(accounts.c.id == bindparam("id"))

    def call(i: int) -> None:
        conn.execute(stmt, {"id": i % 100 + 1}).all()

    return call


def bare() -> Callable[[int], None]:
    _reset()
    return _runner(_engine())


def noop_listeners() -> Callable[[int], None]:
    _reset()
    engine = _engine()
    # The least any cursor instrumentation costs: SQLAlchemy's event dispatch around each cursor
    # execution, with listeners that do nothing.
    event.listen(engine, "before_cursor_execute", _noop)
    event.listen(engine, "after_cursor_execute", _noop)
    return _runner(engine)


def _noop(*args: object) -> None:
    return None


def ours(debug: bool = True) -> Callable[[int], None]:
    _reset()
    at.configure_logging(console=False, json_output=os.path.join(TMP, f"ours-{debug}.jsonl"))
    logging.getLogger("agent_tracing.sqlalchemy").setLevel(logging.DEBUG if debug else logging.INFO)
    engine = _engine()
    instrument_engine(engine)
    at.bind_contextvars(**CONTEXT)
    return _runner(engine)


def echo() -> Callable[[int], None]:
    _reset()
    at.configure_logging(console=False, json_output=os.path.join(TMP, "echo.jsonl"))
    # What echo=True does, minus the extra stdout handler it adds: statements and parameters at
    # INFO on SQLAlchemy's own logger.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    engine = _engine()
    at.bind_contextvars(**CONTEXT)
    return _runner(engine)


def measure_all(cases: dict[str, Callable[[], Callable[[int], None]]]) -> dict[str, float]:
    """Median µs per query of each case, rounds interleaved across cases (noise hits all)."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for repeat in range(REPEATS + 1):
        for name, factory in cases.items():

            def one(factory: Callable[[], Callable[[int], None]] = factory) -> float:
                call = factory()
                for i in range(200):
                    call(i)
                start = time.perf_counter_ns()
                for i in range(CALLS):
                    call(i)
                return (time.perf_counter_ns() - start) / CALLS / 1000

            value = contextvars.copy_context().run(one)
            if repeat:
                samples[name].append(value)
    _reset()
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    m = measure_all(
        {
            "bare": bare,
            "noop": noop_listeners,
            "ours": ours,
            "echo": echo,
            "ours, DEBUG off": lambda: ours(debug=False),
        }
    )
    print(
        f"\nSQLAlchemy query, SQLite in memory: median µs per query, {REPEATS} interleaved rounds "
        f"of {CALLS} queries, {time.strftime('%Y-%m-%d')}"
    )
    print("| case | ours µs | anchor | anchor µs | ours / anchor |")
    print("|---|---|---|---|---|")
    rows = [
        (
            "query logged as JSON",
            "ours",
            "SQLAlchemy's own sqlalchemy.engine INFO logging, same JSON view",
            "echo",
        ),
        (
            "query, SQL lines off",
            "ours, DEBUG off",
            "no-op before/after_cursor_execute listeners",
            "noop",
        ),
        ("query, SQL lines off", "ours, DEBUG off", "bare engine, no instrumentation", "bare"),
        ("query logged as JSON", "ours", "bare engine, no instrumentation", "bare"),
    ]
    for case, mine, anchor_name, anchor in rows:
        print(
            f"| {case} | {m[mine]:.1f} | {anchor_name} | {m[anchor]:.1f} | "
            f"{m[mine] / m[anchor]:.2f} |"
        )


if __name__ == "__main__":
    main()
