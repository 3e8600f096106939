"""``--follow``: tail growing log files and print each new line of the operation as it comes.

:class:`Tail` returns the complete lines appended since the last poll (a partial last line waits
for its newline) and reopens a file that rotation replaced or truncated. :class:`FollowPrinter`
indents each line under its span, using the spans seen so far.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import IO, Any

from agent_tracing.formatters import short_correlation_id
from agent_tracing.viewer.display import display_line
from agent_tracing.viewer.filters import is_span_boundary, span_name
from agent_tracing.viewer.labels import span_details, span_label
from agent_tracing.viewer.reader import Line, ReadStats, parse_line
from agent_tracing.viewer.terminal import Style, format_ms, render_event_line
from agent_tracing.viewer.tree import SpanNode

__all__ = ["FollowPrinter", "Tail"]


@dataclass
class _Followed:
    path: str
    handle: IO[bytes] | None = None
    inode: int | None = None
    position: int = 0
    partial: bytes = b""
    number: int = 0


class Tail:
    """Read what is appended to files, from their start, across rotations.

    Args:
        paths: The live files (not the rotated ones, which no longer grow).
        stats: Where lines and malformed lines are counted.
    """

    def __init__(self, paths: list[str], stats: ReadStats) -> None:
        self.files = [_Followed(path) for path in paths]
        self.stats = stats

    def _open(self, followed: _Followed) -> None:
        try:
            handle = open(followed.path, "rb")  # noqa: SIM115 - kept open while following
        except OSError:
            return
        followed.handle, followed.position, followed.partial = handle, 0, b""
        followed.inode = os.fstat(handle.fileno()).st_ino

    def _drain(self, followed: _Followed) -> list[Line]:
        if followed.handle is None:
            return []
        chunk = followed.handle.read()
        followed.position += len(chunk)
        if not chunk:
            return []
        data = followed.partial + chunk
        *complete, followed.partial = data.split(b"\n")
        out: list[Line] = []
        for raw in complete:
            followed.number += 1
            stripped = raw.strip()
            if not stripped:
                continue
            self.stats.lines += 1
            line, reason = parse_line(stripped)
            if line is None:
                self.stats.skip(followed.path, followed.number, reason)
            else:
                out.append(line)
        return out

    def poll(self) -> list[Line]:
        """Return the new complete lines of every file (each file's in order)."""
        out: list[Line] = []
        for followed in self.files:
            if followed.handle is None:
                self._open(followed)
            out.extend(self._drain(followed))
            try:
                status = os.stat(followed.path)
            except OSError:
                continue  # rotated away and not recreated yet: keep the old handle
            if status.st_ino != followed.inode or status.st_size < followed.position:
                # Replaced (rotation) or truncated: finish the old file, then start the new one.
                if followed.handle is not None:
                    out.extend(self._drain(followed))
                    followed.handle.close()
                followed.handle, followed.number = None, 0
                self._open(followed)
                out.extend(self._drain(followed))
        return out

    def close(self) -> None:
        """Close the files."""
        for followed in self.files:
            if followed.handle is not None:
                followed.handle.close()
                followed.handle = None


@dataclass
class FollowPrinter:
    """Turn lines into indented text, one or two lines each, as they arrive.

    Args:
        style: Colours and verbosity.
        prefix_operation: Start each line with the short correlation id (following every
            operation rather than one).
    """

    style: Style
    prefix_operation: bool = False
    depths: dict[str, int] = field(default_factory=dict)
    spans: dict[str, SpanNode] = field(default_factory=dict)

    def seed(self, nodes: list[tuple[SpanNode, int]]) -> None:
        """Learn the spans already shown (from the initial tree)."""
        for node, depth in nodes:
            self.depths[node.span_id] = depth
            self.spans[node.span_id] = node

    def _depth(self, line: dict[str, Any]) -> int:
        span_id = line.get("span_id")
        if not isinstance(span_id, str):
            return 0
        if span_id not in self.depths:
            parent = line.get("parent_span_id")
            self.depths[span_id] = self.depths[parent] + 1 if parent in self.depths else 0
        return self.depths[span_id]

    def render(self, line: dict[str, Any]) -> str | None:
        """Return the text for one new line (``None`` when the style hides it)."""
        line = display_line(line)
        style = self.style
        depth = self._depth(line)
        lead = ""
        if self.prefix_operation:
            lead = style.paint(f"[{short_correlation_id(line.get('correlation_id'))}] ", "dim")
        indent = "   " * depth
        if is_span_boundary(line):
            event = str(line["event"])
            span_id = str(line.get("span_id"))
            node = self.spans.setdefault(span_id, SpanNode(span_id))
            node.kind = event.rsplit(".", 1)[0]
            if node.name is None or event.endswith(".start"):
                node.name = span_name(line)
            clock = style.paint(str(line.get("timestamp", ""))[11:23], "dim")
            if event.endswith(".start"):
                node.start_line = line
                text = f"▶ {span_label(node)}"
                return f"{lead}{indent}{clock} {style.paint(text, 'bold')}"
            node.end_line = line
            status = node.status
            icon = {"ok": "✓", "error": "✗"}.get(status, "?")
            color = "green" if status == "ok" else "red"
            facts = "  ".join(span_details(node))
            text = f"{style.paint(icon, color, 'bold')} {span_label(node)}"
            text += f"  {style.paint(format_ms(node.duration_ms), 'cyan')}"
            if status != "ok":
                text += f"  {style.paint(status, color)}"
            return f"{lead}{indent}{clock} {text}{'  ' + facts if facts else ''}"
        if not style.verbose and (line.get("event") == "db.query" or line.get("level") == "DEBUG"):
            return None
        inner = "   " if isinstance(line.get("span_id"), str) else ""
        return f"{lead}{indent}{inner}{render_event_line(line, style)}"
