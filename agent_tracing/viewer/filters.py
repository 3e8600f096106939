"""Which lines to keep: an operation (correlation id), ids, a minimum level and a time window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "LEVELS",
    "LineFilter",
    "is_span_boundary",
    "level_number",
    "parse_time",
    "span_name",
]

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def level_number(name: Any) -> int:
    """Return the number of a level name (unknown names count as INFO)."""
    return LEVELS.get(str(name).upper(), 20) if name is not None else 20


def format_time(moment: datetime) -> str:
    """Format a datetime like the schema's timestamps (UTC, milliseconds, ``Z``)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str, now: datetime | None = None) -> str:
    """Parse ``--since``/``--until``: ISO 8601 (UTC unless it has an offset) or ``15m``/``2h`` ago.

    Returns:
        The moment in the schema's timestamp format, which compares correctly as text.

    Raises:
        ValueError: The text is neither form.
    """
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        return format_time((now or datetime.now(UTC)) - delta)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: use ISO 8601 (2025-01-29T15:00:00Z) or 15m, 2h, 1d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment)


def is_span_boundary(line: dict[str, Any]) -> bool:
    """Whether a line is a span's ``<kind>.start`` or ``<kind>.end``: it has ``data.span``, or it
    is a LangChain run's (``agent.graph.start``... with ``data.run_id``, each run a span, which
    ends with ``.end`` or, when it failed, ``.error``)."""
    event = line.get("event")
    if not isinstance(event, str) or not event.endswith((".start", ".end", ".error")):
        return False
    data = line.get("data")
    if not isinstance(data, dict):
        return False
    if event.startswith("agent.") and "run_id" in data:
        return True
    return "span" in data and not event.endswith(".error")


def span_name(line: dict[str, Any]) -> str:
    """The name of the span a boundary line starts or ends (a LangChain run: graph, node, model
    or tool name)."""
    data = line.get("data") or {}
    if "span" in data:
        return str(data["span"])
    for key in ("graph", "tool", "model", "retriever", "chain", "langgraph_node", "name"):
        if data.get(key):
            return str(data[key])
    return str(line.get("message") or "")


@dataclass(frozen=True)
class LineFilter:
    """Criteria a line must meet. Empty criteria keep everything.

    Attributes:
        correlation_id: The operation (a full id, or a prefix such as the console's 8 characters).
        user_id: Lines of this user (compared as text).
        strategy_id: Lines of this strategy.
        backtest_id: Lines of this backtest.
        fields: Other context fields and the value each must have (``(("tenant_id", "t1"),)``),
            for a schema with its own context fields (see :mod:`agent_tracing.schema`).
        min_level: Lines at this level or above; span start/end lines are kept whatever their
            level, so the tree keeps its shape.
        since: Lines at or after this moment (schema timestamp format, see :func:`parse_time`).
        until: Lines at or before this moment.
    """

    correlation_id: str | None = None
    user_id: str | None = None
    strategy_id: str | None = None
    backtest_id: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    min_level: int = 0
    since: str | None = None
    until: str | None = None

    def matches_operation(self, line: dict[str, Any]) -> bool:
        """Whether the line belongs to the chosen operation (any operation when none is chosen)."""
        if self.correlation_id is None:
            return True
        cid = line.get("correlation_id")
        return isinstance(cid, str) and cid.startswith(self.correlation_id)

    def matches_context(self, line: dict[str, Any]) -> bool:
        """Whether the line meets the id and time criteria."""
        for key, wanted in (
            ("user_id", self.user_id),
            ("strategy_id", self.strategy_id),
            ("backtest_id", self.backtest_id),
            *self.fields,
        ):
            if wanted is not None and str(line.get(key)) != wanted:
                return False
        timestamp = line.get("timestamp", "")
        if self.since is not None and timestamp < self.since:
            return False
        return not (self.until is not None and timestamp > self.until)

    def matches_level(self, line: dict[str, Any]) -> bool:
        """Whether the line is at the minimum level (span boundaries always are)."""
        if self.min_level <= 0 or level_number(line.get("level")) >= self.min_level:
            return True
        return is_span_boundary(line)

    def __call__(self, line: dict[str, Any]) -> bool:
        return (
            self.matches_operation(line) and self.matches_context(line) and self.matches_level(line)
        )
