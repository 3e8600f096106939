"""Reading freqtrade's output: log records on stderr, text and result tables on stdout.

Freqtrade logs ``%(asctime)s - %(name)s - %(levelname)s - %(message)s`` lines to stderr. A line
that does not start that way continues the record before it (a traceback, a multi-line message,
a line wrapped by the console), so one record stays one record. Progress bars and table art are
recognised and never relayed as lines; tables are parsed into rows instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FtRecord", "StderrAssembler", "StdoutReader", "is_progress", "parse_tables"]

_LOG_LINE = re.compile(
    r"^(?P<asctime>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) - (?P<name>\S+) - "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) - (?P<message>.*)$"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_PROGRESS = re.compile(r"[━╸╺]{3,}|\d+/\d+\s+\d+%\s*•")
_TABLE_ART = frozenset("┏┓┗┛┡┩┠┨┣┫┳┻╇╈╋┃│─━┼┬┴├┤┌┐└┘╭╮╰╯═║╔╗╚╝╠╣╦╩╬ ")
_TRACEBACK_END = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def clean_line(raw: str) -> str:
    """Return a line without colour codes, trailing space and carriage-return overwrites."""
    line = _ANSI.sub("", raw).rstrip()
    if "\r" in line:
        line = line.rsplit("\r", 1)[-1]
    return line


def is_progress(line: str) -> bool:
    """Whether ``line`` is a progress bar (``backtest ━━━━ 4/4 100% • 0:00:00``)."""
    return _PROGRESS.search(line) is not None


def is_table_art(line: str) -> bool:
    """Whether ``line`` is part of a drawn table (borders or a row between ``│``)."""
    stripped = line.strip()
    return bool(stripped) and stripped[0] in _TABLE_ART and stripped[0] != " "


@dataclass
class FtRecord:
    """One freqtrade log record: its logger, level and message, and a traceback when it had one.

    ``logger`` is ``None`` for stderr text that is not a log line (argparse's usage and error, a
    crash before freqtrade set up logging).
    """

    level: int
    logger: str | None
    message: str
    lines: list[str] = field(default_factory=list)

    @property
    def levelname(self) -> str:
        """The level's name."""
        return logging.getLevelName(self.level)

    def exception(self) -> dict[str, str | None] | None:
        """Return ``{type, message, traceback}`` when the record carries a traceback."""
        for i, line in enumerate(self.lines):
            if line.startswith("Traceback (most recent call last):"):
                trace = "\n".join(self.lines[i:])
                last = next((ln for ln in reversed(self.lines[i:]) if ln.strip()), "")
                match = _TRACEBACK_END.match(last.strip())
                if match is None:
                    return {"type": None, "message": last.strip() or None, "traceback": trace}
                return {"type": match["type"], "message": match["message"], "traceback": trace}
        return None

    def text(self) -> str:
        """The message with its continuation lines, tracebacks left out."""
        kept: list[str] = [self.message]
        for line in self.lines:
            if line.startswith("Traceback (most recent call last):"):
                break
            kept.append(line)
        return "\n".join(kept)


def _plain_level(line: str) -> int:
    low = line.lower()
    if "error" in low or "traceback" in low or "exception" in low:
        return logging.ERROR
    return logging.WARNING


class StderrAssembler:
    """Turn stderr lines into :class:`FtRecord` objects, calling ``emit`` for each finished one.

    A record is finished when the next record starts, when :meth:`flush` is called (at the end of
    the output, or after a quiet moment so a record is never held back while freqtrade works).
    """

    def __init__(self, emit: Callable[[FtRecord], None]) -> None:
        self._emit = emit
        self._pending: FtRecord | None = None
        self._in_traceback = False

    @property
    def pending(self) -> bool:
        """Whether a record is waiting for possible continuation lines."""
        return self._pending is not None

    def feed(self, line: str) -> None:
        """Take one cleaned stderr line."""
        if not line.strip() and self._pending is None:
            return
        match = _LOG_LINE.match(line)
        if match is not None:
            self.flush()
            self._pending = FtRecord(_LEVELS[match["level"]], match["name"], match["message"])
            return
        if is_progress(line):
            return
        if self._pending is not None and (self._pending.logger is not None or self._in_traceback):
            self._pending.lines.append(line)
            if line.startswith("Traceback (most recent call last):"):
                self._in_traceback = True
            return
        # Text outside freqtrade's logging: each line is its own record, except a bare traceback.
        self.flush()
        self._pending = FtRecord(_plain_level(line), None, line)
        if line.startswith("Traceback (most recent call last):"):
            self._pending.lines.append(line)
            self._pending.message = "Uncaught exception"
            self._in_traceback = True

    def flush(self) -> None:
        """Emit the pending record, if any."""
        record, self._pending = self._pending, None
        self._in_traceback = False
        if record is not None:
            while record.lines and not record.lines[-1].strip():
                record.lines.pop()
            self._emit(record)


class StdoutReader:
    """Collect stdout: tables are kept (parsed at the end), other text lines go to ``emit``.

    One line is held back so a table's centred title is known as a title (the next line starts
    the table) and not relayed as text.
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._held: str | None = None
        self.lines: list[str] = []

    def feed(self, line: str) -> None:
        """Take one cleaned stdout line."""
        self.lines.append(line)
        art = is_table_art(line) or is_progress(line)
        held, self._held = self._held, None
        if held is not None and not art:
            self._emit(held)
        if not art and line.strip():
            self._held = line

    def flush(self) -> None:
        """Relay the held line, if any."""
        held, self._held = self._held, None
        if held is not None:
            self._emit(held)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"[┃│]", line.strip())[1:-1]]


def parse_tables(lines: list[str]) -> dict[str, list[list[str]]]:
    """Parse the drawn tables in ``lines`` into ``{title: [header, row, ...]}``.

    A table's title is the text line just above its top border (``table N`` when it has none);
    empty rows (spacers) are dropped.
    """
    tables: dict[str, list[list[str]]] = {}
    title: str | None = None
    rows: list[list[str]] | None = None
    for line in lines:
        stripped = line.strip()
        if stripped[:1] in ("┏", "┌", "╭"):
            name = title or f"table {len(tables) + 1}"
            rows = tables.setdefault(name, [])
            title = None
            continue
        if rows is not None and stripped[:1] in ("┃", "│"):
            cells = _cells(stripped)
            if any(cells):
                rows.append(cells)
            continue
        if rows is not None and stripped[:1] in ("┗", "└", "╰", "┡", "├", "┣"):
            if stripped[:1] in ("┗", "└", "╰"):
                rows = None
            continue
        title = stripped or None
    return tables
