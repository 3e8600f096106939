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

A name is secret when the configured redactor says so (:meth:`agent_tracing.Redactor.is_secret_key`,
``configure_logging(redact_keys=...)`` included) for the name, the name without SQLAlchemy's
numbering (``password_1``, ``password__0``), or the column it derives from (``password_hash``,
``api_key_digest``), or when an instrumented engine's ``redact_parameters`` names it.

:func:`agent_tracing.sqlalchemy.instrument_engine` installs it; an application with only plain
``echo=True`` engines calls :func:`install_echo_redaction` once, before or after creating them.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext, ExecutionContext

from agent_tracing.encoding import get_sanitizer
from agent_tracing.redaction import REDACTED

try:  # the objects SQLAlchemy's engine lines carry as arguments (private, so guarded)
    from sqlalchemy.sql.util import _repr_params, _repr_row
except ImportError:  # pragma: no cover - a SQLAlchemy that logs otherwise: nothing to rewrite
    _repr_params = _repr_row = None  # type: ignore[assignment,misc]

__all__ = [
    "AIOSQLITE_LOGGER",
    "ENGINE_LOGGER",
    "EchoRedactionFilter",
    "bind_columns",
    "install_echo_redaction",
    "is_echo_redaction_installed",
    "is_secret_name",
    "set_engine_names",
    "uninstall_echo_redaction",
]

#: The logger of every engine without a ``logging_name`` (a named engine logs on a child of it).
ENGINE_LOGGER = "sqlalchemy.engine.Engine"
#: aiosqlite's logger: at DEBUG it shows every cursor call with its parameters.
AIOSQLITE_LOGGER = "aiosqlite"

# ``password_1``, ``password_1_1``, ``password__0``: SQLAlchemy numbers binds after the column.
_NUMBERING = re.compile(r"(?:_+\d+)+$")
# A column that stores a secret in another form is as secret as the secret.
_DERIVED = re.compile(r"_(?:hash|hashed|digest|salt|enc|encrypted|cipher|ciphertext)$", re.I)
_CACHE_SIZE = 1024
_HIDDEN = "[parameters hidden: redaction failed]"


class _Names:
    """Answers of :func:`is_secret_name`, for the redactor they came from."""

    redactor: object = None
    answers: dict[str, bool] = {}


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """Return whether the value bound to parameter or column ``name`` must be redacted.

    Args:
        name: A bind name (``password_1``), a column (``users.api_key``) or a row label.
        extra: More names (lower case) that are always secret, e.g. an engine's
            ``redact_parameters``.
    """
    redactor = get_sanitizer().redactor
    if redactor is not _Names.redactor:  # configure_logging() installed another one
        _Names.redactor = redactor
        _Names.answers = {}
    answers = _Names.answers
    known = answers.get(name)
    if known is None:
        column = name.rpartition(".")[2]
        unnumbered = _NUMBERING.sub("", column)
        known = any(
            redactor.is_secret_key(candidate)
            for candidate in {column, unnumbered, _DERIVED.sub("", unnumbered)}
            if candidate
        )
        if len(answers) >= _CACHE_SIZE:
            answers.clear()
        answers[name] = known
    if not known and extra:
        low = name.rpartition(".")[2].lower()
        return low in extra or _NUMBERING.sub("", low) in extra
    return known


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


# -- which values are secret ---------------------------------------------------------------------
_PLACEHOLDER = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/"  # skipped: literals, comments
    r"|(?P<p>\?|%s|\$\d+|(?<![:\w]):\d+\b)"  # positional: qmark, format, numeric
    r"|%\((?P<pyformat>[^)]+)\)s|(?<![:\w]):(?P<named>[A-Za-z_]\w*)",  # named
    re.S,
)
_INSERT = re.compile(
    r"^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+[\w.\"`\[\]]+\s*\((?P<cols>[^)]*)\)\s*VALUES\s*",
    re.I,
)
_BEFORE = re.compile(
    r"(?P<col>[\w.\"`\[\]]+)\s*(?:=|<>|!=|<=|>=|<|>|\bLIKE\b|\bILIKE\b|\bIN\b)\s*\(?\s*$",
    re.I,
)
_QUOTES = '"`[]'
_WINDOW = 200  # characters before a placeholder searched for its column
_MAX_SLOTS = 65536  # more placeholders than any driver takes: a numbering not worth following
_CACHED_STATEMENT = 4096  # longest statement whose columns are cached
_StatementColumns = tuple[list[str | None], dict[str, str]]
_statements: dict[str, _StatementColumns] = {}


def _bare(identifier: str) -> str:
    return identifier.rpartition(".")[2].strip(_QUOTES)


def _statement_columns(statement: str) -> _StatementColumns:
    """The column each placeholder of ``statement`` is bound to, where the SQL says it (the
    ``INSERT`` column list, else ``column <op> placeholder``): positional placeholders by slot,
    named ones (``:name``, ``%(name)s``) by name. Bind names need not be column names
    (``WHERE password = :p``), so both are judged."""
    known = _statements.get(statement)
    if known is not None:
        return known
    insert = _INSERT.match(statement)
    columns = [_bare(c.strip()) for c in insert.group("cols").split(",")] if insert else []
    values_at = insert.end() if insert else len(statement) + 1
    slots: dict[int, str | None] = {}
    named: dict[str, str] = {}
    in_values = 0
    previous_end, previous_column = -1, None
    for match in _PLACEHOLDER.finditer(statement):
        token = match.group("p")
        name = match.group("pyformat") or match.group("named")
        if token is None and name is None:
            continue  # a literal or a comment
        start = match.start()
        column: str | None = None
        if columns and start >= values_at:
            # The n-th placeholder of each VALUES row goes to the n-th column.
            column = columns[in_values % len(columns)]
            in_values += 1
        elif previous_end >= 0 and not statement[previous_end:start].strip(", \t\r\n"):
            column = previous_column  # the next item of a list: ``password IN (?, ?)``
        else:
            before = _BEFORE.search(statement[max(0, start - _WINDOW) : start])
            if before is not None:
                column = _bare(before.group("col"))
        previous_end, previous_column = match.end(), column
        if name is not None:
            if column is not None:
                named.setdefault(name, column)
        else:
            slot = int(token[1:]) - 1 if token[0] in "$:" else len(slots)
            slots[slot] = column
    last = max(slots) + 1 if slots else 0
    positional = [slots.get(slot) for slot in range(last)] if last <= _MAX_SLOTS else []
    result = (positional, named)
    if len(statement) <= _CACHED_STATEMENT:  # a batched insert's long text is not kept
        if len(_statements) >= _CACHE_SIZE:
            _statements.clear()
        _statements[statement] = result
    return result


def bind_columns(statement: str, compiled: Any = None) -> dict[str, str]:
    """Bind name -> the column ``statement`` binds it to, where the SQL says it; positional
    placeholders are named by the compiled statement's bind names (``positiontup``)."""
    positional, named = _statement_columns(statement)
    positions = getattr(compiled, "positiontup", None)
    if not positions or len(positions) != len(positional):
        return named
    out = dict(named)
    for name, column in zip(positions, positional, strict=True):
        if column is not None:
            out.setdefault(name, column)
    return out


def _statement_names(statement: str, count: int) -> list[str | None] | None:
    """The columns of a statement's ``count`` positional placeholders, None if it has others."""
    positional = _statement_columns(statement)[0]
    return positional if len(positional) == count else None


def _compiled_names(compiled: Any, expanded: Any, count: int) -> list[str | None] | None:
    """The bind names of a compiled statement's positional parameters, in order."""
    positions = getattr(compiled, "positiontup", None)
    if not positions:
        return None
    names: list[str | None] = (
        [part for name in positions for part in expanded.get(name, (name,))]
        if expanded
        else list(positions)
    )
    if len(names) == count:
        return names
    if count % len(names) == 0:  # insertmanyvalues: one row after the other
        return names * (count // len(names))
    return None


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
        columns, self.named = _statement_columns(statement) if statement else ([], {})
        if isinstance(sample, (tuple, list)):
            count = len(sample)
            sources = (
                _compiled_names(compiled, expanded, count),
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
