"""``agent-tracing list``: one summary per operation, built while streaming (lines are not kept)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent_tracing.viewer.filters import is_span_boundary, level_number, span_name
from agent_tracing.viewer.tree import parse_timestamp

__all__ = ["OperationSummary", "summarize"]


@dataclass
class OperationSummary:
    """What ``list`` shows of one operation.

    Attributes:
        correlation_id: The operation's id.
        start: The first line's timestamp.
        end: The last line's timestamp.
        lines: How many lines it has.
        errors: How many lines are at ERROR or above.
        warnings: How many lines are at WARNING.
        user_id: The first user id seen.
        entry: The entry point: the name of the first span without a parent in the operation
            (an HTTP route, a task name), else of the first span.
        entry_kind: That span's kind (``http.request``, ``task``...).
        entry_duration_ms: That span's duration, when its end was seen.
        failed_spans: How many spans ended with a status other than ``ok``.
    """

    correlation_id: str
    start: str
    end: str
    lines: int = 0
    errors: int = 0
    warnings: int = 0
    user_id: Any = None
    entry: str | None = None
    entry_kind: str | None = None
    entry_span_id: str | None = None
    entry_is_root: bool = False
    entry_duration_ms: float | None = None
    failed_spans: int = 0

    @property
    def status(self) -> str:
        """``error`` when a span failed or a line is at ERROR or above, else ``ok``."""
        return "error" if self.errors or self.failed_spans else "ok"

    @property
    def duration_ms(self) -> float:
        """The entry span's duration, else the time from the first line to the last."""
        if self.entry_duration_ms is not None and self.entry_is_root:
            return self.entry_duration_ms
        return max(0.0, 1000 * (parse_timestamp(self.end) - parse_timestamp(self.start)))

    def as_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready mapping (``list --json``), with the values as read: pass it
        through :func:`~agent_tracing.viewer.display.display_value` before showing it."""
        return {
            "correlation_id": self.correlation_id,
            "start": self.start,
            "end": self.end,
            "duration_ms": round(self.duration_ms, 3),
            "status": self.status,
            "user_id": self.user_id,
            "entry": self.entry,
            "entry_kind": self.entry_kind,
            "lines": self.lines,
            "errors": self.errors,
            "warnings": self.warnings,
        }


def _observe(summary: OperationSummary, line: dict[str, Any]) -> None:
    timestamp = line["timestamp"]
    summary.start = min(summary.start, timestamp)
    summary.end = max(summary.end, timestamp)
    summary.lines += 1
    level = level_number(line.get("level"))
    if level >= 40:
        summary.errors += 1
    elif level >= 30:
        summary.warnings += 1
    if summary.user_id is None and line.get("user_id") is not None:
        summary.user_id = line["user_id"]
    if not is_span_boundary(line):
        return
    event = str(line["event"])
    data = line["data"]
    if event.endswith(".start"):
        is_root = not line.get("parent_span_id")
        # The first root span wins; until one is seen, the first span stands in.
        if summary.entry is None or (is_root and not summary.entry_is_root):
            summary.entry = span_name(line)
            summary.entry_kind = event.rsplit(".", 1)[0]
            summary.entry_span_id = line.get("span_id")
            summary.entry_is_root = is_root
            summary.entry_duration_ms = None
        return
    if data.get("status") not in (None, "ok"):
        summary.failed_spans += 1
    if line.get("span_id") == summary.entry_span_id and isinstance(
        data.get("duration_ms"), int | float
    ):
        summary.entry_duration_ms = float(data["duration_ms"])
    elif summary.entry is None:
        # Only the end is in the input (its start was rotated away): it names the entry.
        summary.entry = span_name(line)
        summary.entry_kind = event.rsplit(".", 1)[0]
        summary.entry_is_root = not line.get("parent_span_id")


def summarize(lines: Iterable[dict[str, Any]]) -> list[OperationSummary]:
    """Summarise every operation in ``lines`` (lines without a correlation id are not one).

    Memory grows with the number of operations, not of lines.

    Returns:
        The summaries, oldest first.
    """
    summaries: dict[str, OperationSummary] = {}
    for line in lines:
        cid = line.get("correlation_id")
        if cid is None or cid == "":
            continue
        cid = str(cid)
        summary = summaries.get(cid)
        if summary is None:
            summary = summaries[cid] = OperationSummary(cid, line["timestamp"], line["timestamp"])
        _observe(summary, line)
    return sorted(summaries.values(), key=lambda s: s.start)
