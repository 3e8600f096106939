"""Which bound values are secret: by their parameter's name, and by the column it is bound to.

A name is secret when the configured redactor says so (:meth:`agent_tracing.Redactor.is_secret_key`,
``configure_logging(redact_keys=...)`` included) for the name, the name without SQLAlchemy's
numbering (``password_1``, ``password__0``), or the column it derives from (``password_hash``,
``api_key_digest``). A statement's text tells which column a placeholder is bound to where it
says so plainly: the ``INSERT`` column list, ``column <op> placeholder``, the items of an ``IN``
list; a placeholder inside an expression (``crypt(?, ...)``) has no column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from agent_tracing.encoding import get_sanitizer

__all__ = ["bind_columns", "compiled_names", "is_secret_name", "statement_columns"]

# ``password_1``, ``password_1_1``, ``password__0``: SQLAlchemy numbers binds after the column.
_NUMBERING = re.compile(r"(?:_+\d+)+$")
# A column that stores a secret in another form is as secret as the secret.
_DERIVED = re.compile(r"_(?:hash|hashed|digest|salt|enc|encrypted|cipher|ciphertext)$", re.I)
_CACHE_SIZE = 1024


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


def statement_columns(statement: str) -> _StatementColumns:
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
    positional, named = statement_columns(statement)
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
    positional = statement_columns(statement)[0]
    return positional if len(positional) == count else None


def compiled_names(compiled: Any, expanded: Any, count: int) -> list[str | None] | None:
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
