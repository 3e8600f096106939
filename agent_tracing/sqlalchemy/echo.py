"""SQLAlchemy's own echo lines without the values of secret parameters and columns.

With ``create_engine(..., echo=True)``, or the ``sqlalchemy.engine`` logger at INFO, SQLAlchemy
logs every statement and then its parameters (``[generated in 0.0001s] ('bob', 's3cret')``), and
at DEBUG (``echo="debug"``) every row it fetched. Those lines reach the root logger's handlers
(and the stdout handler ``echo=True`` adds); the core's redaction only sees their text, where
``'s3cret'`` looks like any other value. :func:`install_echo_redaction` makes them safe:

- a filter on SQLAlchemy's engine loggers replaces the parameters of each parameter line (the
  ``_repr_params`` object SQLAlchemy passes as the line's argument) by a copy in which the value
  of every secret-named parameter is ``[REDACTED]``, and the values of secret-named columns in
  each ``Row`` line likewise; the line keeps SQLAlchemy's format and truncation;
- aiosqlite's DEBUG lines (each cursor call with its parameters, logged from its own thread)
  get the same filter, judged by the statement's columns;
- the exception SQLAlchemy raises for a failed statement shows its parameters in its text
  (``[parameters: ('bob', 's3cret')]``), in every line that logs it: a ``handle_error`` listener
  redacts them in the exception the same way;
- named parameters (a dict, or executemany's list of dicts, ``password__0`` of insertmanyvalues
  batches) are judged by their names; positional ones (SQLite's ``?``, ``%s``, ``$1``) by the
  bind names of the compiled statement, which a ``before_cursor_execute`` listener on every
  engine remembers (per thread, only for a connection that echoes) until the line is written;
  every value also by the column the statement binds it to (the ``INSERT`` column list,
  ``col = ?``, ``password = :p``), raw SQL (``exec_driver_sql``) included. A positional value
  whose name cannot be found is left as it is, to the core's value patterns.

Which names and columns are secret is decided in :mod:`agent_tracing.sqlalchemy.names`; an
instrumented engine's ``redact_parameters`` are secret too.

:func:`agent_tracing.sqlalchemy.instrument_engine` installs it; an application with only plain
``echo=True`` engines calls :func:`install_echo_redaction` once, before or after creating them.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext, ExecutionContext

from agent_tracing.redaction import REDACTED
from agent_tracing.sqlalchemy.names import compiled_names, is_secret_name, statement_columns

try:  # the objects SQLAlchemy's engine lines carry as arguments (private, so guarded)
    from sqlalchemy.sql.util import _repr_params, _repr_row
except ImportError:  # pragma: no cover - a SQLAlchemy that logs otherwise: nothing to rewrite
    _repr_params = _repr_row = None  # type: ignore[assignment,misc]

__all__ = [
    "AIOSQLITE_LOGGER",
    "ENGINE_LOGGER",
    "EchoRedactionFilter",
    "install_echo_redaction",
    "is_echo_redaction_installed",
    "set_engine_names",
    "uninstall_echo_redaction",
]

#: The logger of every engine without a ``logging_name`` (a named engine logs on a child of it).
ENGINE_LOGGER = "sqlalchemy.engine.Engine"
#: aiosqlite's logger: at DEBUG it shows every cursor call with its parameters.
AIOSQLITE_LOGGER = "aiosqlite"
_HIDDEN = "[parameters hidden: redaction failed]"

# -- what the listener remembers -------------------------------------------------------------
# (parameters, statement, compiled, expanded, engine): the parameters object identifies the line;
# the compiled form is SQLAlchemy's cached one (it holds nothing of this execution); ``expanded``
# names the binds an ``IN`` list was expanded into.
_Sent = tuple[Any, str | None, Any, Any, Any]


class _Last(threading.local):
    """The statement this thread is executing on an echoing connection."""

    sent: _Sent | None = None


_last = _Last()
_extra_names: weakref.WeakKeyDictionary[Engine, frozenset[str]] = weakref.WeakKeyDictionary()
_filtered: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def _before_cursor_execute(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext | None,
    executemany: bool,
) -> None:
    # Runs for every statement of every engine: a connection that does not echo (SQLAlchemy
    # decides it from its logger's level when the connection is made) needs nothing.
    if not getattr(conn, "_echo", True):
        return
    try:
        engine = conn.engine
        _last.sent = (
            parameters,
            statement,
            getattr(context, "compiled", None),
            getattr(context, "_expanded_parameters", None),
            engine,
        )
        if engine.logging_name is not None and engine not in _filtered:
            _filter_engine_logger(engine)
    except Exception:  # pragma: no cover - never into SQLAlchemy
        pass


def _filter_engine_logger(engine: Engine) -> None:
    """Put the filter on a named engine's own logger (its records never pass the parent's)."""
    with _lock:
        _filtered.add(engine)
        logger = getattr(engine.logger, "logger", engine.logger)  # echo wraps it
        if isinstance(logger, logging.Logger) and _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
            _named_loggers.add(logger)


_named_loggers: set[logging.Logger] = set()


def set_engine_names(engine: Engine, names: Iterable[str]) -> None:
    """Make ``names`` secret in ``engine``'s echo lines too (its ``redact_parameters``)."""
    if names:
        _extra_names[engine] = frozenset(name.lower() for name in names)


class _Judge:
    """Which values of the parameter sets of one statement are secret."""

    def __init__(self, sample: Any, sent: _Sent | None) -> None:
        self.extra: frozenset[str] = frozenset()
        self.named: dict[str, str] = {}
        self.slots: list[bool] | None = None
        if sent is None:
            return  # names only, no guess
        _, statement, compiled, expanded, engine = sent
        self.extra = _extra_names.get(engine, frozenset()) if engine is not None else frozenset()
        columns, self.named = statement_columns(statement) if statement else ([], {})
        if isinstance(sample, (tuple, list)):
            count = len(sample)
            sources = (
                compiled_names(compiled, expanded, count),
                columns if len(columns) == count else None,
            )
            for names in sources:
                if names is None:
                    continue
                if self.slots is None:
                    self.slots = [False] * count
                for index, name in enumerate(names):
                    if name is not None and is_secret_name(name, self.extra):
                        self.slots[index] = True

    def key(self, key: Any) -> bool:
        name = str(key)
        if is_secret_name(name, self.extra):
            return True
        column = self.named.get(name)
        return column is not None and is_secret_name(column, self.extra)

    def one_set(self, params: Any) -> Any:
        """``params`` with secret values redacted, or ``params`` itself when none is."""
        if isinstance(params, Mapping):
            if not any(self.key(key) for key in params):
                return params
            return {key: (REDACTED if self.key(key) else value) for key, value in params.items()}
        slots = self.slots
        if isinstance(params, (tuple, list)) and slots is not None and any(slots):
            out = [
                REDACTED if secret else value for secret, value in zip(slots, params, strict=False)
            ] + list(params[len(slots) :])
            return tuple(out) if isinstance(params, tuple) else out
        return params


def _redacted(params: Any, ismulti: bool | None, sent: _Sent | None) -> Any:
    """``params`` with the values of secret names redacted, or ``params`` itself when none is."""
    if ismulti and isinstance(params, (list, tuple)):
        if not params:
            return params
        judge = _Judge(params[0], sent)
        new = type(params)(judge.one_set(p) for p in params)
        return params if all(a is b for a, b in zip(new, params, strict=True)) else new
    return _Judge(params, sent).one_set(params)


def _sent_for(params: Any) -> _Sent | None:
    """What the listener saw, if ``params`` (a line's) is what it saw: never a guess."""
    sent = _last.sent
    if sent is None:
        return None
    seen = sent[0]
    if seen is params or (isinstance(seen, list) and seen and seen[0] is params):
        return sent
    return None


def _redacted_params(shown: Any) -> Any:
    new = _redacted(shown.params, shown.ismulti, _sent_for(shown.params))
    if new is shown.params:
        return shown
    return _repr_params(
        new,
        shown.batches,
        max_params=shown.max_params,
        max_chars=shown.max_chars,
        ismulti=shown.ismulti,
    )


def _handle_error(ctx: ExceptionContext) -> None:
    """Redact the parameters SQLAlchemy's exception shows (``[parameters: ...]`` in its text,
    which reaches every line that logs it), in place."""
    error = ctx.sqlalchemy_exception
    if error is None:
        return
    try:
        params = getattr(error, "params", None)
        if params:
            context = ctx.execution_context
            sent = (
                params,
                ctx.statement,
                getattr(context, "compiled", None),
                getattr(context, "_expanded_parameters", None),
                ctx.engine,
            )
            error.params = _redacted(params, getattr(error, "ismulti", None), sent)
    except Exception:
        try:
            error.hide_parameters = True  # never show what could not be judged
        except Exception:  # pragma: no cover - an exception class that refuses attributes
            pass


def _redacted_row(shown: Any) -> Any:
    row = shown.row
    fields = getattr(row, "_fields", ())
    sent = _last.sent  # the statement whose rows these are
    engine = sent[4] if sent is not None else None
    extra = _extra_names.get(engine, frozenset()) if engine is not None else frozenset()
    if not any(is_secret_name(str(field), extra) for field in fields):
        return shown
    values = tuple(
        REDACTED if is_secret_name(str(field), extra) else value
        for field, value in zip(fields, row, strict=False)
    )
    return _repr_params(values, 1, max_chars=shown.max_chars, ismulti=False)


def _redacted_call(call: functools.partial[Any]) -> Any:
    """aiosqlite's DEBUG lines show each cursor call, ``execute(statement, parameters)``, from
    its own thread: judged by the statement's columns."""
    if len(call.args) != 2 or not isinstance(call.args[0], str):
        return call
    statement, params = call.args
    if not isinstance(params, (tuple, list, Mapping)):
        return call
    sent = _sent_for(params) or (params, statement, None, None, None)
    many = getattr(call.func, "__name__", "") == "executemany"
    new = _redacted(params, many, sent)
    return call if new is params else functools.partial(call.func, statement, new)


class EchoRedactionFilter(logging.Filter):
    """Rewrites the parameters and rows of SQLAlchemy's engine lines; never drops a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not args or type(args) is not tuple:
            return True  # statements, BEGIN/COMMIT: no argument to rewrite
        try:
            changed = False
            out = list(args)
            for index, arg in enumerate(args):
                if _repr_params is not None and isinstance(arg, _repr_params):
                    out[index] = _redacted_params(arg)
                elif _repr_row is not None and isinstance(arg, _repr_row):
                    out[index] = _redacted_row(arg)
                elif isinstance(arg, functools.partial):
                    out[index] = _redacted_call(arg)
                else:
                    continue
                changed = changed or out[index] is not arg
            if changed:
                record.args = tuple(out)
        except Exception:
            # Failing open would write the values: hide the parameters of this line instead.
            record.args = tuple(
                _HIDDEN
                if (_repr_params is not None and isinstance(a, _repr_params))
                or (_repr_row is not None and isinstance(a, _repr_row))
                or isinstance(a, functools.partial)
                else a
                for a in args
            )
        return True


_FILTER = EchoRedactionFilter()


class _State:
    installed = False


def install_echo_redaction() -> bool:
    """Redact secret values in SQLAlchemy's echo lines of every engine of the process.

    Adds the filter to the ``sqlalchemy.engine.Engine`` logger (and to a named engine's logger
    when it first runs a statement) and ``before_cursor_execute`` and ``handle_error`` listeners
    on :class:`~sqlalchemy.engine.Engine` (the exception of a failed statement shows redacted
    parameters too), so engines created before and after the call are
    covered, ``echo=True`` ones included. Idempotent.

    Returns:
        ``True`` if installed now, ``False`` if it already was.
    """
    with _lock:
        if _State.installed:
            return False
        for name in (ENGINE_LOGGER, AIOSQLITE_LOGGER):
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
        event.listen(Engine, "handle_error", _handle_error)
        _State.installed = True
    return True


def uninstall_echo_redaction() -> bool:
    """Remove what :func:`install_echo_redaction` added (the filters and the listener).

    Returns:
        ``True`` if it was installed, ``False`` if there was nothing to remove.
    """
    with _lock:
        if not _State.installed:
            return False
        for name, listener in (
            ("before_cursor_execute", _before_cursor_execute),
            ("handle_error", _handle_error),
        ):
            if event.contains(Engine, name, listener):
                event.remove(Engine, name, listener)
        for name in (ENGINE_LOGGER, AIOSQLITE_LOGGER):
            logging.getLogger(name).removeFilter(_FILTER)
        for named in _named_loggers:
            named.removeFilter(_FILTER)
        _named_loggers.clear()
        _filtered.clear()
        _State.installed = False
    return True


def is_echo_redaction_installed() -> bool:
    """Return whether :func:`install_echo_redaction` is in force."""
    return _State.installed
