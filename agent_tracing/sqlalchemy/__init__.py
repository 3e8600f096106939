"""SQLAlchemy integration: queries, failures, transactions and lost connections as log lines.

``instrument_engine(engine)`` listens to the engine's events and logs, in the current context (so
the request's correlation id, user and span reach every query):

=============================  ===========  ====================================================
event                          level        when
=============================  ===========  ====================================================
``db.query``                   DEBUG        a statement ran (``duration_ms``, statement, params)
``db.query.slow``              WARNING      it ran longer than ``slow_query_ms`` (when set)
``db.query.error``             ERROR        a statement failed (with the exception)
``db.transaction.begin``       DEBUG        a transaction began
``db.transaction.commit``      DEBUG        it was committed (``duration_ms`` since begin)
``db.transaction.rollback``    DEBUG        it was rolled back (``duration_ms`` since begin)
``db.savepoint.begin``         DEBUG        a savepoint (``begin_nested``) began ...
``db.savepoint.release``       DEBUG        ... was released
``db.savepoint.rollback``      DEBUG        ... was rolled back
``db.connection.lost``         CRITICAL     the database connection was lost (``is_disconnect``)
``db.connection.failed``       CRITICAL     a new connection could not be made
``db.connection.stale``        WARNING      the pool's pre-ping found a dead connection (replaced)
=============================  ===========  ====================================================

Parameters are logged by name where SQLAlchemy compiled the statement (ORM, Core, ``text()``):
a parameter whose name looks secret (``password``, ``api_key``, ``password_1`` for a ``WHERE
password = ...``, ``password_hash``) is replaced by ``[REDACTED]`` here, and the core's redaction
scrubs every other value (JWTs, bearer tokens, credentials in URLs). Every listener is guarded:
nothing raised here ever reaches SQLAlchemy or the caller.

SQLAlchemy's own echo lines (``echo=True``, or the ``sqlalchemy.engine`` logger at INFO) get the
same treatment once :func:`install_echo_redaction` is in force, for every engine of the process;
:func:`instrument_engine` installs it (see :mod:`agent_tracing.sqlalchemy.echo`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_tracing.logger import BoundLogger, get_logger
from agent_tracing.redaction import REDACTED
from agent_tracing.sqlalchemy.echo import (
    install_echo_redaction,
    is_echo_redaction_installed,
    set_engine_names,
    uninstall_echo_redaction,
)
from agent_tracing.sqlalchemy.names import bind_columns, is_secret_name

__all__ = [
    "DEFAULT_COMPONENT",
    "DEFAULT_LOGGER",
    "EVENT_CONNECTION_FAILED",
    "EVENT_CONNECTION_LOST",
    "EVENT_CONNECTION_STALE",
    "EVENT_INSTRUMENTATION_ERROR",
    "EVENT_QUERY",
    "EVENT_QUERY_ERROR",
    "EVENT_QUERY_SLOW",
    "EVENT_SAVEPOINT_BEGIN",
    "EVENT_SAVEPOINT_RELEASE",
    "EVENT_SAVEPOINT_ROLLBACK",
    "EVENT_TRANSACTION_BEGIN",
    "EVENT_TRANSACTION_COMMIT",
    "EVENT_TRANSACTION_ROLLBACK",
    "install_echo_redaction",
    "instrument_engine",
    "is_echo_redaction_installed",
    "is_instrumented",
    "uninstall_echo_redaction",
    "uninstrument_engine",
]

DEFAULT_LOGGER = "agent_tracing.sqlalchemy"
DEFAULT_COMPONENT = "sqlalchemy"

EVENT_QUERY = "db.query"
EVENT_QUERY_SLOW = "db.query.slow"
EVENT_QUERY_ERROR = "db.query.error"
EVENT_TRANSACTION_BEGIN = "db.transaction.begin"
EVENT_TRANSACTION_COMMIT = "db.transaction.commit"
EVENT_TRANSACTION_ROLLBACK = "db.transaction.rollback"
EVENT_SAVEPOINT_BEGIN = "db.savepoint.begin"
EVENT_SAVEPOINT_RELEASE = "db.savepoint.release"
EVENT_SAVEPOINT_ROLLBACK = "db.savepoint.rollback"
EVENT_CONNECTION_LOST = "db.connection.lost"
EVENT_CONNECTION_FAILED = "db.connection.failed"
EVENT_CONNECTION_STALE = "db.connection.stale"
EVENT_INSTRUMENTATION_ERROR = "db.instrumentation.error"

# SQLAlchemy's transaction events, ours, and the message of each.
_TRANSACTION_EVENTS: tuple[tuple[str, str, str], ...] = (
    ("begin", EVENT_TRANSACTION_BEGIN, "Transaction begin"),
    ("commit", EVENT_TRANSACTION_COMMIT, "Transaction commit"),
    ("rollback", EVENT_TRANSACTION_ROLLBACK, "Transaction rollback"),
    ("savepoint", EVENT_SAVEPOINT_BEGIN, "Savepoint begin"),
    ("release_savepoint", EVENT_SAVEPOINT_RELEASE, "Savepoint release"),
    ("rollback_savepoint", EVENT_SAVEPOINT_ROLLBACK, "Savepoint rollback"),
)
# Where the start time of a cursor execution is kept: on SQLAlchemy's per-execution context, so a
# failed statement (no ``after_cursor_execute``) leaves nothing behind anywhere else.
_STARTED_ATTR = "_agent_tracing_started"
# The start of the current transaction, in the connection's ``info`` (it lives as long as the
# DBAPI connection, across pool checkouts; begin always overwrites it).
_TX_STARTED_KEY = "_agent_tracing_tx_started"
_WHITESPACE = re.compile(r"\s+")
_MESSAGE_CHARS = 120

_registry: weakref.WeakKeyDictionary[Engine, _Instrumentation] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _sync_engine(engine: Engine | AsyncEngine) -> Engine:
    return engine.sync_engine if isinstance(engine, AsyncEngine) else engine


def instrument_engine(
    engine: Engine | AsyncEngine,
    *,
    logger: str | logging.Logger | BoundLogger | None = None,
    component: str | None = DEFAULT_COMPONENT,
    log_parameters: bool = True,
    redact_parameters: Iterable[str] = (),
    max_statement: int = 2000,
    max_parameter_sets: int = 5,
    slow_query_ms: float | None = None,
) -> bool:
    """Log the engine's queries, failures, transactions and connection losses.

    Works on a sync :class:`~sqlalchemy.engine.Engine` and on an
    :class:`~sqlalchemy.ext.asyncio.AsyncEngine` (its ``sync_engine`` is instrumented; the context
    reaches the listeners through SQLAlchemy's greenlet bridge). Instrumenting an engine twice does
    nothing the second time. Also installs :func:`install_echo_redaction` (process-wide, left in
    place by :func:`uninstrument_engine`), so SQLAlchemy's own parameter lines hide secrets too.

    Args:
        engine: The engine to instrument.
        logger: Where the lines go (a name or a logger); default ``agent_tracing.sqlalchemy``.
        component: The ``component`` of every line (``None``: the component bound in the context,
            else the logger name).
        log_parameters: Log the statement's parameters (``False`` logs only their count).
        redact_parameters: More parameter or column names whose values are always redacted.
        max_statement: Characters of the statement kept in ``data.statement``.
        max_parameter_sets: Parameter sets kept for an ``executemany`` (the count is always given).
        slow_query_ms: Also log a ``db.query.slow`` WARNING for statements slower than this.

    Returns:
        ``True`` if the engine was instrumented now, ``False`` if it already was.
    """
    target = _sync_engine(engine)
    with _registry_lock:
        if target in _registry:
            return False
        instrumentation = _Instrumentation(
            target,
            logger=logger,
            component=component,
            log_parameters=log_parameters,
            redact_parameters=redact_parameters,
            max_statement=max_statement,
            max_parameter_sets=max_parameter_sets,
            slow_query_ms=slow_query_ms,
        )
        instrumentation.attach()
        _registry[target] = instrumentation
    set_engine_names(target, redact_parameters)
    install_echo_redaction()
    return True


def uninstrument_engine(engine: Engine | AsyncEngine) -> bool:
    """Remove what :func:`instrument_engine` attached (exactly those listeners).

    Returns:
        ``True`` if the engine was instrumented, ``False`` if there was nothing to remove.
    """
    target = _sync_engine(engine)
    with _registry_lock:
        instrumentation = _registry.pop(target, None)
        if instrumentation is None:
            return False
        instrumentation.detach()
    return True


def is_instrumented(engine: Engine | AsyncEngine) -> bool:
    """Return whether :func:`instrument_engine` is in force on ``engine``."""
    return _sync_engine(engine) in _registry


def _short(statement: str, limit: int) -> str:
    text = _WHITESPACE.sub(" ", statement).strip()
    return text if len(text) <= limit else f"{text[:limit]}…"


_CACHE_SIZE = 512
# Statements repeat (SQLAlchemy caches their compiled form): their message is computed once.
_messages: dict[str, str] = {}


def _message(statement: str) -> str:
    message = _messages.get(statement)
    if message is None:
        message = _short(statement, _MESSAGE_CHARS)
        if len(_messages) >= _CACHE_SIZE:
            _messages.clear()
        _messages[statement] = message
    return message


class _Instrumentation:
    """The listeners of one engine, attached and detached as one set."""

    def __init__(
        self,
        engine: Engine,
        *,
        logger: str | logging.Logger | BoundLogger | None,
        component: str | None,
        log_parameters: bool,
        redact_parameters: Iterable[str],
        max_statement: int,
        max_parameter_sets: int,
        slow_query_ms: float | None,
    ) -> None:
        self.engine = engine
        if isinstance(logger, BoundLogger):
            base = logger
        elif isinstance(logger, logging.Logger):
            base = BoundLogger(logger)
        else:
            base = get_logger(logger or DEFAULT_LOGGER)
        self.log = base.bind(component=component) if component else base
        self.log_parameters = log_parameters
        self.redact_names = frozenset(name.lower() for name in redact_parameters)
        self.max_statement = max_statement
        self.max_parameter_sets = max_parameter_sets
        self.slow_query_ms = slow_query_ms
        self._failed_once = False
        self._listeners: list[tuple[str, Callable[..., Any]]] = [
            ("before_cursor_execute", self.before_cursor_execute),
            ("after_cursor_execute", self.after_cursor_execute),
            ("handle_error", self.handle_error),
        ]
        for name, event_name, message in _TRANSACTION_EVENTS:
            self._listeners.append((name, self._transaction_listener(name, event_name, message)))

    def attach(self) -> None:
        for name, listener in self._listeners:
            event.listen(self.engine, name, listener)

    def detach(self) -> None:
        for name, listener in self._listeners:
            if event.contains(self.engine, name, listener):
                event.remove(self.engine, name, listener)

    # -- guard -----------------------------------------------------------------------------------
    def _failed(self, where: str) -> None:
        """Report, once per engine, that a listener failed (never raised into SQLAlchemy)."""
        if self._failed_once:
            return
        self._failed_once = True
        try:
            self.log.warning(
                "SQLAlchemy instrumentation failed in %s; the query itself is unaffected",
                where,
                event=EVENT_INSTRUMENTATION_ERROR,
                exc_info=True,
            )
        except Exception:  # pragma: no cover - the logging system itself is broken
            pass

    # -- parameters ------------------------------------------------------------------------------
    def _is_secret(self, name: str) -> bool:
        return is_secret_name(name, self.redact_names)

    def _secret_key(self, key: str, columns: Mapping[str, str]) -> bool:
        if self._is_secret(key):
            return True
        column = columns.get(key)
        return column is not None and self._is_secret(column)

    def _named(self, params: Mapping[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
        return {
            str(key): (REDACTED if self._secret_key(str(key), columns) else value)
            for key, value in params.items()
        }

    def _one_set(self, params: Any, columns: Mapping[str, str]) -> Any:
        if isinstance(params, Mapping):
            return self._named(params, columns)
        if isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
            return list(params)
        return params

    def _parameters(
        self,
        context: ExecutionContext | None,
        parameters: Any,
        executemany: bool,
        statement: str | None,
    ) -> dict[str, Any]:
        """``parameters`` (and ``parameter_sets`` for executemany) for a line's data."""
        compiled_sets = getattr(context, "compiled_parameters", None) if context else None
        compiled = getattr(context, "compiled", None)
        if compiled is not None and compiled_sets:
            # Named by bind (column) names, before type processing: the readable form.
            sets: Sequence[Any] = compiled_sets
        elif executemany and isinstance(parameters, Sequence):
            sets = parameters
        else:
            sets = [parameters] if parameters else []
        many = executemany or len(sets) > 1
        if not self.log_parameters:
            return {"parameter_sets": len(sets)} if many else {}
        # A bind is also judged by the column the statement binds it to (``password = :p``).
        columns = bind_columns(statement, compiled) if statement else {}
        if many:
            kept = [self._one_set(p, columns) for p in list(sets)[: self.max_parameter_sets]]
            return {"parameters": kept, "parameter_sets": len(sets)}
        return {"parameters": self._one_set(sets[0], columns)} if sets and sets[0] else {}

    def _query_data(
        self,
        statement: str | None,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if statement is not None:
            data["statement"] = (
                statement
                if len(statement) <= self.max_statement
                else f"{statement[: self.max_statement]}…[truncated]"
            )
        data.update(self._parameters(context, parameters, executemany, statement))
        return data

    # -- queries ---------------------------------------------------------------------------------
    def before_cursor_execute(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        try:
            if context is None:
                return
            if self.slow_query_ms is None and not self.log.isEnabledFor(logging.DEBUG):
                return  # nothing will be logged on success: skip the timing too
            setattr(context, _STARTED_ATTR, time.perf_counter())
        except Exception:
            self._failed("before_cursor_execute")

    def after_cursor_execute(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        try:
            started = getattr(context, _STARTED_ATTR, None)
            if started is None:
                return
            duration_ms = round((time.perf_counter() - started) * 1000, 3)
            slow = self.slow_query_ms is not None and duration_ms >= self.slow_query_ms
            if not slow and not self.log.isEnabledFor(logging.DEBUG):
                return
            data = {"duration_ms": duration_ms}
            data.update(self._query_data(statement, parameters, context, executemany))
            rowcount = getattr(cursor, "rowcount", -1)
            if isinstance(rowcount, int) and rowcount >= 0:
                data["rowcount"] = rowcount
            message = _message(statement)
            self.log.debug("%s", message, event=EVENT_QUERY, data=data)
            if slow:
                self.log.warning(
                    "Slow query (%s ms): %s",
                    duration_ms,
                    message,
                    event=EVENT_QUERY_SLOW,
                    data={**data, "threshold_ms": self.slow_query_ms},
                )
        except Exception:
            self._failed("after_cursor_execute")

    def handle_error(self, ctx: ExceptionContext) -> None:
        try:
            self._handle_error(ctx)
        except Exception:
            self._failed("handle_error")

    def _handle_error(self, ctx: ExceptionContext) -> None:
        error = ctx.original_exception
        # The DBAPI's own exception: SQLAlchemy's wrapper repeats the statement and the raw
        # parameters in its message, and those must go through our redaction instead.
        data = self._query_data(
            ctx.statement, ctx.parameters, ctx.execution_context, executemany=False
        )
        started = getattr(ctx.execution_context, _STARTED_ATTR, None)
        if started is not None:
            data["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        data["error_type"] = type(error).__name__
        dialect = getattr(ctx.dialect, "name", None)
        if dialect:
            data["dialect"] = dialect
        if ctx.is_pre_ping:
            self.log.warning(
                "Stale database connection found by the pool's pre-ping; reconnecting",
                event=EVENT_CONNECTION_STALE,
                data=data,
            )
        elif ctx.connection is None and ctx.statement is None:
            # Raised while connecting: no connection was ever made, so none was lost.
            self.log.critical(
                "Database connection failed: %s",
                _short(str(error), _MESSAGE_CHARS),
                event=EVENT_CONNECTION_FAILED,
                data=data,
                exc_info=error,
            )
        elif ctx.is_disconnect:
            self.log.critical(
                "Database connection lost: %s",
                _short(str(error), _MESSAGE_CHARS),
                event=EVENT_CONNECTION_LOST,
                data=data,
                exc_info=error,
            )
        else:
            self.log.error(
                "Query failed: %s",
                _short(str(error), _MESSAGE_CHARS),
                event=EVENT_QUERY_ERROR,
                data=data,
                exc_info=error,
            )

    # -- transactions ----------------------------------------------------------------------------
    def _transaction_listener(
        self, name: str, event_name: str, message: str
    ) -> Callable[..., None]:
        """A listener for SQLAlchemy's ``name`` event (begin/commit/rollback and savepoints)."""
        begins = name == "begin"
        ends = name in ("commit", "rollback")

        def listener(conn: Connection, savepoint: str | None = None, *args: Any) -> None:
            try:
                data: dict[str, Any] | None = None
                if begins:
                    conn.info[_TX_STARTED_KEY] = time.perf_counter()
                elif ends:
                    started = conn.info.pop(_TX_STARTED_KEY, None)
                    if started is not None:
                        data = {"duration_ms": round((time.perf_counter() - started) * 1000, 3)}
                if savepoint is not None:
                    data = {"savepoint": savepoint}
                self.log.debug(message, event=event_name, data=data)
            except Exception:
                self._failed(name)

        return listener
