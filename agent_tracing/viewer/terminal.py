"""The operation as a tree of spans on a terminal: coloured when it is one, plain otherwise.

It prints the lines as :func:`~agent_tracing.viewer.tree.build_operation` keeps them, already
through :func:`~agent_tracing.viewer.display.display_line` (redacted, controls escaped): the only
escape sequences written are the colours below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TextIO

from agent_tracing.viewer.labels import (
    event_label,
    is_sql,
    output_files,
    span_details,
    span_label,
    sql_summary,
)
from agent_tracing.viewer.tree import Operation, SpanNode, parse_timestamp

__all__ = ["Style", "render_event_line", "render_operation", "use_color"]

_CODES = {
    "reset": "\x1b[0m",
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
    "red": "\x1b[31m",
    "green": "\x1b[32m",
    "yellow": "\x1b[33m",
    "blue": "\x1b[34m",
    "magenta": "\x1b[35m",
    "cyan": "\x1b[36m",
}
_LEVEL_COLORS = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "red", "DEBUG": "dim"}
_STATUS_ICONS = {"ok": "✓", "error": "✗", "running": "…"}


def use_color(stream: TextIO, mode: str = "auto") -> bool:
    """Whether to colour: ``always``/``never``, or auto (a terminal, unless ``NO_COLOR`` is set)."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass(frozen=True)
class Style:
    """Rendering options.

    Attributes:
        color: Use ANSI colours.
        verbose: Show every line (DEBUG ones and each SQL query) instead of a SQL summary.
        data_limit: Characters of each event's ``data`` shown (0 hides it).
    """

    color: bool = False
    verbose: bool = False
    data_limit: int = 120

    def paint(self, text: str, *names: str) -> str:
        """Wrap ``text`` in the named colours when colouring."""
        if not self.color or not names:
            return text
        return "".join(_CODES[n] for n in names) + text + _CODES["reset"]


def format_ms(value: float | None) -> str:
    """Format a duration: ``850 µs``, ``12.3 ms``, ``4.52 s``, ``2m 05s``."""
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} µs"
    if value < 1000:
        return f"{value:.1f} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s"
    minutes, seconds = divmod(value / 1000, 60)
    return f"{minutes:.0f}m {seconds:02.0f}s"


def _status_color(status: str) -> str:
    return {"ok": "green", "error": "red", "running": "yellow"}.get(status, "yellow")


def render_event_line(line: dict[str, Any], style: Style) -> str:
    """Return one event as text: level mark, time, message and data.

    ``line`` is shown as given: pass it through :func:`~agent_tracing.viewer.display.display_line`
    first (:func:`~agent_tracing.viewer.tree.build_operation` and the follow printer do).
    """
    level = str(line.get("level") or "INFO")
    mark = {"WARNING": "⚠ ", "ERROR": "✗ ", "CRITICAL": "✗ "}.get(level, "· ")
    clock = str(line.get("timestamp", ""))[11:23]
    text = event_label(line, style.data_limit)
    colors = [_LEVEL_COLORS[level]] if level in _LEVEL_COLORS else []
    if line.get("event") == "agent.decision":
        colors = ["magenta"]
    return f"{style.paint(clock, 'dim')} {style.paint(mark + text, *colors)}"


def _span_line(node: SpanNode, origin: float, style: Style) -> str:
    status = node.status
    icon = style.paint(_STATUS_ICONS.get(status, "?"), _status_color(status), "bold")
    label = style.paint(span_label(node), "bold")
    offset_ms = (node.start_time - origin) * 1000
    offset = f"+{offset_ms:.1f} ms" if offset_ms < 1000 else f"+{format_ms(offset_ms)}"
    parts = [f"{icon} {label}", style.paint(format_ms(node.duration_ms), "cyan")]
    parts.extend(span_details(node))
    if status not in ("ok",):
        parts.append(style.paint(status, _status_color(status)))
    parts.append(style.paint(offset, "dim"))
    if node.missing_parent:
        parts.append(style.paint(f"(parent {node.parent_span_id} not in input)", "yellow"))
    return "  ".join(parts)


def _span_body(node: SpanNode, style: Style) -> list[tuple[float, str]]:
    """The lines under a span other than its child spans, each with the time it sorts at."""
    items: list[tuple[float, str]] = []
    sql_count, sql_ms = sql_summary(node.events)
    for line in node.events:
        if not style.verbose and (is_sql(line) or line.get("level") == "DEBUG"):
            continue
        items.append((parse_timestamp(line["timestamp"]), render_event_line(line, style)))
    if sql_count and not style.verbose:
        text = f"SQL: {sql_count} quer{'y' if sql_count == 1 else 'ies'}, {format_ms(sql_ms)}"
        items.append((node.start_time, style.paint(text, "blue")))
    for path in output_files(node):
        items.append((float("inf"), style.paint(f"→ {path}", "cyan")))
    end = node.end_line
    if end is not None and isinstance(end.get("exception"), dict):
        exc = end["exception"]
        text = f"✗ {exc.get('type')}: {exc.get('message')}"
        items.append((float("inf"), style.paint(text, "red")))
    return items


def _render_node(
    node: SpanNode, prefix: str, last: bool, origin: float, style: Style, out: list[str]
) -> None:
    branch = "└─ " if last else "├─ "
    out.append(f"{prefix}{branch}{_span_line(node, origin, style)}")
    child_prefix = prefix + ("   " if last else "│  ")
    entries: list[tuple[float, int, Any]] = [(at, 0, text) for at, text in _span_body(node, style)]
    entries.extend((child.start_time, 1, child) for child in node.children)
    entries.sort(key=lambda item: (item[0], item[1]))
    for index, (_, kind, item) in enumerate(entries):
        is_last = index == len(entries) - 1
        if kind == 1:
            _render_node(item, child_prefix, is_last, origin, style, out)
        else:
            out.append(f"{child_prefix}{'└─ ' if is_last else '├─ '}{item}")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_operation(operation: Operation, style: Style, sources: int | None = None) -> str:
    """Return the whole operation: a header line, then each root span's tree, then loose lines."""
    status = operation.status
    errors, warnings = operation.count(40), operation.count(30) - operation.count(40)
    header = [
        style.paint(f"operation {operation.correlation_id or '-'}", "bold"),
        f"user {operation.user_id if operation.user_id is not None else '-'}",
        f"start {operation.start or '-'}",
        f"duration {format_ms(operation.duration_ms)}",
        "status " + style.paint(status, _status_color(status), "bold"),
        f"{operation.lines} lines" + (f" from {sources} sources" if sources else ""),
        style.paint(_plural(errors, "error"), "red") if errors else "0 errors",
        style.paint(_plural(warnings, "warning"), "yellow") if warnings else "0 warnings",
    ]
    out = ["  ".join(header)]
    origin = operation.start_time
    for index, root in enumerate(operation.roots):
        _render_node(root, "", index == len(operation.roots) - 1, origin, style, out)
    shown = [
        line
        for line in operation.loose
        if style.verbose or not (is_sql(line) or line.get("level") == "DEBUG")
    ]
    if shown:
        out.append(style.paint("lines outside any span:", "dim"))
        out.extend(f"   {render_event_line(line, style)}" for line in shown)
    return "\n".join(out)
