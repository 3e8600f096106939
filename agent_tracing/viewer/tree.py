"""The span tree of one operation, built from its lines' ``span_id`` / ``parent_span_id``.

Generic: any ``<kind>.start`` / ``<kind>.end`` pair with ``data.span`` is a span of that kind,
whatever the kind; lines inside a span are its events. A span whose parent is not in the input
(a process whose log was not given) becomes a root, marked as such. Only ``data.span``,
``data.duration_ms`` and ``data.status`` of the boundary events are relied on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent_tracing.viewer.display import display_line
from agent_tracing.viewer.filters import is_span_boundary, level_number, span_name

__all__ = ["Operation", "SpanNode", "build_operation", "parse_timestamp"]


def parse_timestamp(text: str) -> float:
    """Return epoch seconds of a schema timestamp (0.0 when it cannot be read)."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return 0.0


@dataclass
class SpanNode:
    """One span: its boundary events, the lines inside it and its child spans."""

    span_id: str
    parent_span_id: str | None = None
    kind: str = "span"
    name: str | None = None
    start_line: dict[str, Any] | None = None
    end_line: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    children: list[SpanNode] = field(default_factory=list)
    missing_parent: bool = False

    @property
    def status(self) -> str:
        """``ok``, ``error`` (or another status the end event gave), or ``running`` (no end)."""
        if self.end_line is None:
            return "running"
        data = self.end_line.get("data") or {}
        status = data.get("status")
        if isinstance(status, str) and status:
            return status
        return "error" if level_number(self.end_line.get("level")) >= 40 else "ok"

    @property
    def duration_ms(self) -> float | None:
        """The end event's ``duration_ms`` (or the time between start and end lines)."""
        if self.end_line is None:
            return None
        value = (self.end_line.get("data") or {}).get("duration_ms")
        if isinstance(value, int | float):
            return float(value)
        if self.start_line is not None:
            return 1000 * (
                parse_timestamp(self.end_line["timestamp"])
                - parse_timestamp(self.start_line["timestamp"])
            )
        return None

    @property
    def start_time(self) -> float:
        """Epoch seconds the span started (from its start line, else end minus duration)."""
        if self.start_line is not None:
            return parse_timestamp(self.start_line["timestamp"])
        if self.end_line is not None:
            return parse_timestamp(self.end_line["timestamp"]) - (self.duration_ms or 0.0) / 1000
        if self.events:
            return parse_timestamp(self.events[0]["timestamp"])
        return 0.0

    @property
    def end_data(self) -> dict[str, Any]:
        """The end event's extra data (without ``span``, ``duration_ms`` and ``status``)."""
        data = (self.end_line or {}).get("data") or {}
        return {k: v for k, v in data.items() if k not in ("span", "duration_ms", "status")}

    @property
    def start_data(self) -> dict[str, Any]:
        """The start event's extra data (without ``span``)."""
        data = (self.start_line or {}).get("data") or {}
        return {k: v for k, v in data.items() if k != "span"}

    @property
    def lines(self) -> list[dict[str, Any]]:
        """Every line of the span itself in time order: start, events, end."""
        out = [self.start_line] if self.start_line is not None else []
        out.extend(self.events)
        if self.end_line is not None:
            out.append(self.end_line)
        return out

    def walk(self, depth: int = 0) -> Iterator[tuple[SpanNode, int]]:
        """Yield this span and its descendants depth-first, with their depth."""
        yield self, depth
        for child in self.children:
            yield from child.walk(depth + 1)


@dataclass
class Operation:
    """One operation (one correlation id): its root spans and lines outside any span."""

    correlation_id: str | None
    roots: list[SpanNode]
    loose: list[dict[str, Any]]
    lines: int
    start: str | None
    end: str | None

    def walk(self) -> Iterator[tuple[SpanNode, int]]:
        """Yield every span depth-first with its depth."""
        for root in self.roots:
            yield from root.walk()

    @property
    def spans(self) -> list[SpanNode]:
        """Every span, depth-first."""
        return [node for node, _ in self.walk()]

    def count(self, minimum: int) -> int:
        """How many lines are at ``minimum`` level or above."""
        total = sum(level_number(x.get("level")) >= minimum for x in self.loose)
        for node in self.spans:
            total += sum(level_number(x.get("level")) >= minimum for x in node.lines)
        return total

    @property
    def status(self) -> str:
        """``error`` when a span failed or a line is at ERROR or above, else ``ok``."""
        if any(node.status == "error" for node in self.spans) or self.count(40):
            return "error"
        return "ok"

    @property
    def user_id(self) -> Any:
        """The first user id seen in the operation."""
        for line in self.all_lines():
            if line.get("user_id") is not None:
                return line["user_id"]
        return None

    def all_lines(self) -> Iterator[dict[str, Any]]:
        """Every line of the operation (spans first, then loose lines)."""
        for node in self.spans:
            yield from node.lines
        yield from self.loose

    @property
    def start_time(self) -> float:
        """Epoch seconds of the earliest span start or line."""
        times = [node.start_time for node in self.spans]
        if self.start:
            times.append(parse_timestamp(self.start))
        return min(times) if times else 0.0

    @property
    def duration_ms(self) -> float:
        """From the first start to the last end (a root span's duration when there is one root)."""
        if len(self.roots) == 1 and self.roots[0].duration_ms is not None:
            root = self.roots[0]
            end = root.start_time * 1000 + (root.duration_ms or 0.0)
        else:
            end = 0.0
        for node in self.spans:
            if node.duration_ms is not None:
                end = max(end, node.start_time * 1000 + node.duration_ms)
        if self.end:
            end = max(end, parse_timestamp(self.end) * 1000)
        return max(0.0, end - self.start_time * 1000)


def _span_kind(event: str) -> str:
    return event.rsplit(".", 1)[0]


def build_operation(lines: Iterable[dict[str, Any]]) -> Operation:
    """Build the span tree from one operation's lines (in time order).

    Each line is kept as :func:`~agent_tracing.viewer.display.display_line` returns it (secrets
    redacted, controls escaped), so whatever a view shows of the operation is safe to show.

    Args:
        lines: The lines of one correlation id, merged by timestamp.

    Returns:
        The operation: root spans with children in start order, and lines outside any span.
    """
    nodes: dict[str, SpanNode] = {}
    loose: list[dict[str, Any]] = []
    count = 0
    first: str | None = None
    last: str | None = None
    correlation_id: str | None = None
    for raw in lines:
        line = display_line(raw)
        count += 1
        timestamp = line.get("timestamp")
        if isinstance(timestamp, str):
            first = timestamp if first is None or timestamp < first else first
            last = timestamp if last is None or timestamp > last else last
        if correlation_id is None and isinstance(line.get("correlation_id"), str):
            correlation_id = line["correlation_id"]
        span_id = line.get("span_id")
        if not isinstance(span_id, str) or not span_id:
            loose.append(line)
            continue
        node = nodes.get(span_id)
        if node is None:
            node = nodes[span_id] = SpanNode(span_id)
        parent = line.get("parent_span_id")
        if node.parent_span_id is None and isinstance(parent, str) and parent:
            node.parent_span_id = parent
        event = line.get("event")
        if is_span_boundary(line):
            kind = _span_kind(str(event))
            name = span_name(line)
            # A second ``*.start`` in the same span (``agent.graph.start``) is an event of it.
            if str(event).endswith(".start") and node.start_line is None:
                node.start_line, node.kind, node.name = line, kind, str(name)
                continue
            if (
                str(event).endswith((".end", ".error"))
                and node.end_line is None
                and (node.start_line is None or kind == node.kind)
            ):
                # The start names the span (a LangChain run's end line lacks the graph's name).
                node.end_line, node.kind = line, kind
                node.name = node.name if node.start_line is not None else name
                continue
        node.events.append(line)

    _fold_event_only_spans(nodes)
    roots: list[SpanNode] = []
    for node in nodes.values():
        parent_node = nodes.get(node.parent_span_id or "")
        if parent_node is not None and parent_node is not node:
            parent_node.children.append(node)
        else:
            node.missing_parent = node.parent_span_id is not None
            roots.append(node)
    _break_cycles(nodes, roots)
    _order(roots)
    return Operation(correlation_id, roots, loose, count, first, last)


def _fold_event_only_spans(nodes: dict[str, SpanNode]) -> None:
    """A span id with lines but no start, no end and no children (a LangGraph routing decision
    is its own run, logged as one line) is shown as events of its parent, not as a span."""
    parents = {node.parent_span_id for node in nodes.values()}
    for span_id, node in list(nodes.items()):
        parent = nodes.get(node.parent_span_id or "")
        if (
            node.start_line is None
            and node.end_line is None
            and span_id not in parents
            and parent is not None
            and parent is not node
        ):
            parent.events.extend(node.events)
            parent.events.sort(key=lambda line: str(line.get("timestamp", "")))
            del nodes[span_id]


def _break_cycles(nodes: dict[str, SpanNode], roots: list[SpanNode]) -> None:
    # Spans whose parents form a loop (corrupt input) are reachable from no root: cut each loop
    # at one span and make it a root, so every span is shown exactly once.
    reached = {id(node) for root in roots for node, _ in root.walk()}
    for node in nodes.values():
        if id(node) in reached:
            continue
        parent_node = nodes.get(node.parent_span_id or "")
        if parent_node is not None and node in parent_node.children:
            parent_node.children.remove(node)
        node.missing_parent = True
        roots.append(node)
        reached.update(id(n) for n, _ in node.walk())


def _order(nodes: list[SpanNode]) -> None:
    nodes.sort(key=lambda n: n.start_time)
    for node in nodes:
        _order(node.children)
