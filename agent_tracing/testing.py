"""Test helpers: capture the JSON lines a block of code emits, normalised for snapshots.

``capture_events()`` installs a handler on the root logger with the real :class:`JsonFormatter`
and parses each line back, so a test sees exactly what would be written. ``normalize_events``
replaces volatile values (timestamps, ids, durations) by stable placeholders numbered by first
appearance, so ``assert events == snapshot`` holds run after run while still showing which lines
share an id.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson

from agent_tracing.formatters import JsonFormatter
from agent_tracing.schema import SPAN_FIELDS

__all__ = ["CapturedEvents", "capture_events", "normalize_events"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ID_KEYS = ("correlation_id", *SPAN_FIELDS)
_VOLATILE_DATA_KEYS = frozenset(
    {
        "duration_ms",
        "elapsed_ms",
        "runtime",
        "execution_time",
        "execution_time_ms",
        "timestamp",
        "started_at",
        "finished_at",
        "pid",
        "hostname",
        "thread",
        "port",
        "client",
    }
)
_ID_DATA_KEYS = frozenset(
    {
        "run_id",
        "parent_run_id",
        "root_run_id",
        "task_id",
        "root_id",
        "parent_id",
        "request_id",
        "span_id",
        "parent_span_id",
        "tool_call_id",
        "trace_id",
    }
)


class _Handler(logging.Handler):
    #: Capture, not output: ``configure_logging`` leaves it on the root (see ``config._CAPTURE``).
    _agent_tracing_capture = True

    def __init__(self, sink: list[dict[str, Any]], formatter: JsonFormatter) -> None:
        super().__init__(logging.DEBUG)
        self._sink = sink
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        formatter = self.formatter
        assert isinstance(formatter, JsonFormatter)
        line = formatter.format_bytes(record)
        try:
            self._sink.append(orjson.loads(line))
        except orjson.JSONDecodeError:  # escaped lone surrogates: valid JSON orjson refuses
            self._sink.append(json.loads(line))


class CapturedEvents:
    """The lines captured so far: ``raw`` as emitted, ``events`` normalised for snapshots."""

    def __init__(self) -> None:
        self.raw: list[dict[str, Any]] = []

    @property
    def events(self) -> list[dict[str, Any]]:
        """Captured lines with volatile values replaced (see :func:`normalize_events`)."""
        return normalize_events(self.raw)

    def by_event(self, name: str) -> list[dict[str, Any]]:
        """Raw lines whose ``event`` is ``name``."""
        return [line for line in self.raw if line.get("event") == name]

    def messages(self) -> list[str]:
        """The ``message`` of each raw line."""
        return [line["message"] for line in self.raw]

    def clear(self) -> None:
        """Forget what was captured."""
        self.raw.clear()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


@contextmanager
def capture_events(
    level: int = logging.DEBUG, logger: str | None = None
) -> Iterator[CapturedEvents]:
    """Capture every line that reaches ``logger`` (default: the root) at ``level`` or above.

    The logger's level is lowered to ``level`` for the block and restored after.
    """
    captured = CapturedEvents()
    target = logging.getLogger(logger)
    handler = _Handler(captured.raw, JsonFormatter())
    previous = target.level
    target.addHandler(handler)
    target.setLevel(level)
    try:
        yield captured
    finally:
        target.removeHandler(handler)
        target.setLevel(previous)


class _Numbering:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], str] = {}

    def __call__(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self.seen:
            count = sum(1 for k in self.seen if k[0] == kind) + 1
            self.seen[key] = f"<{kind}:{count}>"
        return self.seen[key]


def _normalize_value(key: str | None, value: Any, number: _Numbering) -> Any:
    if isinstance(value, Mapping):
        return {k: _normalize_value(k, v, number) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_value(None, v, number) for v in value]
    if key in _VOLATILE_DATA_KEYS and value is not None:
        return f"<{key}>"
    if key in _ID_DATA_KEYS and isinstance(value, str):
        return number("id", value)
    if isinstance(value, str):
        return _UUID.sub(lambda m: number("uuid", m.group(0)), value)
    return value


def normalize_events(lines: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the lines with timestamps, ids, durations and tracebacks' volatile parts replaced.

    ``correlation_id`` values become ``<cid:N>``, span ids ``<span:N>``, UUIDs and run/task ids
    ``<uuid:N>``/``<id:N>`` (numbered by first appearance, so equal ids stay equal); ``timestamp``
    and durations become placeholders; a traceback keeps only its last line.
    """
    number = _Numbering()
    out: list[dict[str, Any]] = []
    for line in lines:
        item: dict[str, Any] = {}
        for key, value in line.items():
            if key == "timestamp":
                item[key] = "<timestamp>"
            elif key == "correlation_id" and isinstance(value, str):
                item[key] = number("cid", value)
            elif key in SPAN_FIELDS and isinstance(value, str):
                item[key] = number("span", value)
            elif key == "exception" and isinstance(value, Mapping):
                trace = value.get("traceback") or ""
                item[key] = {
                    **{k: _normalize_value(k, v, number) for k, v in value.items()},
                    "traceback": trace.strip().splitlines()[-1] if trace.strip() else trace,
                }
            else:
                item[key] = _normalize_value(key, value, number)
        out.append(item)
    return out
