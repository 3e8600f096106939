"""Reading JSON lines: files, globs, rotated files (``.1``, ``.gz``) and stdin, merged by time.

Everything streams: a source is read line by line and parsed as it goes, so the caller decides
what to keep. A line that is not one JSON object with a ``timestamp`` is skipped and counted in
:class:`ReadStats`, never fatal. Lines from several sources (several processes' files) are merged
by timestamp; each file is already in time order, so a heap merge keeps memory flat.
"""

from __future__ import annotations

import glob
import gzip
import heapq
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

__all__ = [
    "Line",
    "ReadStats",
    "expand_inputs",
    "iter_lines",
    "needle_for",
    "parse_line",
    "read_lines",
]

STDIN = "-"
_GLOB_CHARS = re.compile(r"[*?\[]")
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")
# What the stdlib's rotating handlers append: ``.1`` ... (size) or a date/time (timed), ``.gz``
# when compressed by logrotate or a namer.
_ROTATED_SUFFIX = re.compile(r"^\.(\d+|\d{4}-\d{2}-\d{2}(?:[_T][\d-]+)?)(\.gz)?$")

Line = dict[str, Any]
"""One parsed JSON line (the schema's keys)."""


@dataclass
class ReadStats:
    """What reading saw: lines read, malformed lines skipped (with a few examples), sources."""

    lines: int = 0
    malformed: int = 0
    sources: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def skip(self, source: str, number: int, reason: str) -> None:
        """Count one malformed line (keeps the first three as examples)."""
        self.malformed += 1
        if len(self.examples) < 3:
            self.examples.append(f"{source}:{number}: {reason}")


def _rotation_key(base: Path, path: Path) -> tuple[int, int, str]:
    suffix = path.name[len(base.name) :]
    number = suffix.lstrip(".").split(".")[0]
    # Oldest first: ``.3`` before ``.1``, dated ones by date; the live file last.
    if number.isdigit():
        return (0, -int(number), "")
    return (1, 0, number)


def rotated_siblings(path: Path) -> list[Path]:
    """Return the rotated files of ``path`` (``app.jsonl.1``, ``app.jsonl.2.gz``), oldest first."""
    try:
        entries = list(path.parent.iterdir()) if path.parent.is_dir() else []
    except OSError:
        return []
    found = [
        p
        for p in entries
        if p.name.startswith(path.name)
        and p.name != path.name
        and _ROTATED_SUFFIX.match(p.name[len(path.name) :])
    ]
    return sorted(found, key=lambda p: _rotation_key(path, p))


def expand_inputs(
    inputs: Sequence[str], *, rotated: bool = True, stats: ReadStats | None = None
) -> list[str]:
    """Resolve ``inputs`` into the sources to read, each once.

    Args:
        inputs: Paths, glob patterns, or ``-`` for stdin (also the default when empty).
        rotated: Add each plain file's rotated siblings (``.1``, ``.2.gz``, dated suffixes).
        stats: Where missing inputs are recorded.

    Returns:
        Paths (and ``-``) in reading order, without duplicates.
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        key = name if name == STDIN else os.path.realpath(name)
        if key not in seen:
            seen.add(key)
            out.append(name)

    for item in inputs or [STDIN]:
        if item == STDIN:
            add(STDIN)
            continue
        if _GLOB_CHARS.search(item):
            matches = sorted(glob.glob(item))
            if not matches and stats is not None:
                stats.missing.append(item)
            for match in matches:
                if os.path.isfile(match):
                    add(match)
            continue
        path = Path(item)
        if rotated:
            for sibling in rotated_siblings(path):
                add(str(sibling))
        if path.is_file():
            add(item)
        elif stats is not None:
            stats.missing.append(item)
    return out


def open_binary(source: str) -> IO[bytes]:
    """Open a source for reading bytes: stdin, a gzip file (by its magic bytes) or a plain file."""
    if source == STDIN:
        return sys.stdin.buffer
    handle = open(source, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if handle.peek(2)[:2] == b"\x1f\x8b":
        return gzip.open(handle, "rb")  # type: ignore[return-value]
    return handle


def parse_line(raw: bytes) -> tuple[Line | None, str]:
    """Parse one raw line: ``(line, "")`` or ``(None, reason)`` when it is not a log line."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        value = _lenient_loads(raw)
        if value is None:
            return None, f"not JSON ({str(error).split(':')[0]})"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    if not isinstance(value.get("timestamp"), str):
        return None, "no timestamp"
    return _coerce(value), ""


def _lenient_loads(raw: bytes) -> Any:
    """Parse what orjson refuses but a line still is: a lone surrogate escape (``"\\ud800"``),
    bytes that are not UTF-8 (decoded as U+FFFD), bare ``NaN``; ``None`` when it is not JSON.

    Such a line may be the one that matters (an ERROR line from a foreign writer), so it is kept;
    the views escape what they show of it. Only lines orjson refused pay for this second parse.
    """
    try:
        return json.loads(raw.decode("utf-8", "replace"), parse_int=_parse_int)
    except (ValueError, RecursionError):
        return None


def _parse_int(digits: str) -> int | str:
    # Python refuses to convert more than 4,300 digits; such a number is kept as its text.
    return int(digits) if len(digits) <= 4000 else digits


_TEXT_KEYS = ("level", "correlation_id", "message", "event", "span_id", "parent_span_id")


def _coerce(line: Line) -> Line:
    """Give the fields the viewer reads the schema's types (a foreign writer may not)."""
    for key in _TEXT_KEYS:
        value = line.get(key)
        if value is not None and not isinstance(value, str):
            line[key] = (
                None if isinstance(value, dict | list) else orjson.dumps(value).decode().strip('"')
            )
    data = line.get("data")
    if data is not None and not isinstance(data, dict):
        line["data"] = {"value": data}
    if "exception" in line and not isinstance(line["exception"], dict | None):
        line["exception"] = {"type": None, "message": str(line["exception"]), "traceback": None}
    return line


def needle_for(text: str | None) -> bytes | None:
    """The bytes every line holding ``text`` (an id) contains, when that can be known.

    Only for ids of letters, digits and ``-_.:``, which JSON writes as they are; any other id
    gets ``None`` (every line is then parsed).
    """
    if text and _PLAIN_ID.match(text):
        return text.encode("ascii")
    return None


def iter_lines(source: str, stats: ReadStats, needle: bytes | None = None) -> Iterator[Line]:
    """Yield the parsed lines of one source, counting and skipping malformed ones.

    Args:
        source: A path or ``-``.
        stats: Where lines and malformed lines are counted.
        needle: When given, a line without these bytes is not parsed (it cannot be wanted);
            it is still counted as malformed when it is not even shaped like a JSON object.
    """
    stats.sources.append(source)
    name = "<stdin>" if source == STDIN else source
    try:
        handle = open_binary(source)
    except OSError as error:
        stats.missing.append(f"{source} ({error.strerror})")
        return
    try:
        for number, raw in enumerate(handle, 1):
            stripped = raw.strip()
            if not stripped:
                continue
            stats.lines += 1
            if needle is not None and needle not in stripped:
                if stripped[:1] != b"{" or stripped[-1:] != b"}":
                    stats.skip(name, number, "not a JSON object")
                continue
            line, reason = parse_line(stripped)
            if line is None:
                stats.skip(name, number, reason)
                continue
            yield line
    except (OSError, EOFError) as error:
        # A truncated .gz or a file removed while reading: keep what was read.
        stats.skip(name, -1, f"read error: {error}")
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def _timestamp(line: Line) -> str:
    value: str = line["timestamp"]
    return value


def read_lines(
    sources: Iterable[str], stats: ReadStats, needle: bytes | None = None
) -> Iterator[Line]:
    """Yield the lines of all ``sources`` merged by timestamp (ties keep the sources' order).

    ``needle`` skips parsing lines that cannot be wanted (see :func:`iter_lines`).
    """
    streams = [iter_lines(source, stats, needle) for source in sources]
    if len(streams) == 1:
        return streams[0]
    # The schema's timestamps are fixed-width ISO strings in UTC, so they sort as text.
    return heapq.merge(*streams, key=_timestamp)
