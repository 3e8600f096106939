"""How spans and events read: nicer labels for the kinds the integrations log, generic for others.

Best effort only: the labels look for well-known keys (a status code, token counts, output files)
when they are there and never need them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from agent_tracing.viewer.tree import SpanNode

__all__ = [
    "compact_json",
    "event_label",
    "output_files",
    "span_details",
    "span_label",
    "sql_summary",
    "token_usage",
]

_KIND_LABELS = {
    "http.request": "HTTP",
    "task": "task",
    "agent.run": "agent",
    "agent.graph": "graph",
    "agent.node": "node",
    "agent.chain": "chain",
    "agent.llm": "LLM",
    "agent.tool": "tool",
    "agent.retriever": "retriever",
    "freqtrade.command": "freqtrade",
    "db.query": "SQL",
    "service": "service",
}
_SQL_EVENTS = frozenset({"db.query"})
_FILE_HINTS = ("file", "path", "output", "result")
# A directory separator, or a name ending in an extension (``result.json``): not ``"done."``.
_PATH = re.compile(r"[/\\]|\.[A-Za-z0-9]{1,8}$")
# Text with spaces and an (escaped) line break is prose, such as a model's answer, not a path
# (``C:\\new\\result.json`` has the ``\\n`` but no space).
_LINE_BREAK = re.compile(r"\\[nr]")


def compact_json(value: Any, limit: int = 160) -> str:
    """Return ``value`` as one line of JSON, cut to ``limit`` characters."""
    try:
        text = orjson.dumps(value, default=str).decode("utf-8")
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def span_label(node: SpanNode) -> str:
    """Return ``"HTTP POST /x"``, ``"LLM gpt-4o"``, ``"task app.x"``, or ``"<kind> <name>"``."""
    prefix = _KIND_LABELS.get(node.kind)
    if prefix is None and node.kind.startswith("agent."):
        prefix = node.kind.split(".", 1)[1]
    name = node.name or f"span {node.span_id}"
    return f"{prefix or node.kind} {name}"


def _find(data: Any, predicate: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    if not isinstance(data, dict) or depth > 2:
        return
    for key, value in data.items():
        if predicate(str(key), value):
            yield str(key), value
        elif isinstance(value, dict):
            yield from _find(value, predicate, depth + 1)


def token_usage(node: SpanNode) -> dict[str, int]:
    """Token counts found in the span's end data (``prompt_tokens``, ``total_tokens``...)."""
    found = _find(
        node.end_data,
        lambda key, value: "token" in key.lower() and isinstance(value, int),
    )
    return dict(found)


def output_files(node: SpanNode) -> list[str]:
    """File paths named in the span's end data (keys mentioning file, path, output or result)."""
    files: list[str] = []
    for key, value in node.end_data.items():
        if not any(hint in key.lower() for hint in _FILE_HINTS):
            continue
        values = value if isinstance(value, list) else [value]
        files.extend(
            v
            for v in values
            if isinstance(v, str) and _PATH.search(v) and not (" " in v and _LINE_BREAK.search(v))
        )
    return files


def sql_summary(lines: list[dict[str, Any]]) -> tuple[int, float]:
    """How many ``db.query`` lines there are and their total ``data.duration_ms``."""
    count, total = 0, 0.0
    for line in lines:
        if line.get("event") in _SQL_EVENTS:
            count += 1
            value = (line.get("data") or {}).get("duration_ms")
            if isinstance(value, int | float):
                total += float(value)
    return count, total


def is_sql(line: dict[str, Any]) -> bool:
    """Whether a line is one SQL query."""
    return line.get("event") in _SQL_EVENTS


def span_details(node: SpanNode) -> list[str]:
    """Short facts shown beside a span: HTTP status code, token usage, exit code."""
    data = node.end_data
    facts: list[str] = []
    for key in ("status_code", "exit_code", "return_code"):
        if isinstance(data.get(key), int):
            facts.append(f"{key.replace('_', ' ')} {data[key]}")
    usage = token_usage(node)
    if usage:
        facts.append(
            "tokens " + " ".join(f"{k.replace('_tokens', '')}={v}" for k, v in usage.items())
        )
    return facts


def event_label(line: dict[str, Any], data_limit: int = 120) -> str:
    """Return an event's one-line text: ``[event] message {data}`` and the exception, if any."""
    event = line.get("event")
    message = str(line.get("message") or "")
    text = f"{event}: {message}" if event else message
    data = line.get("data")
    if data and data_limit > 0:
        text += f"  {compact_json(data, data_limit)}"
    exception = line.get("exception")
    if isinstance(exception, dict) and exception.get("type"):
        text += f"  ({exception.get('type')}: {exception.get('message')})"
    return text
