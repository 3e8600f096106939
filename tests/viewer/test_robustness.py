"""Lines of any shape (a foreign writer, a corrupt file) never break the viewer."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_tracing.viewer.html import render_html
from agent_tracing.viewer.operations import summarize
from agent_tracing.viewer.reader import parse_line
from agent_tracing.viewer.terminal import Style, render_operation
from agent_tracing.viewer.tree import build_operation

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["op", "s1", "s2", "ERROR", "task.start", "task.end", "db.query", "x.start"]),
    st.text(max_size=8),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_data = st.one_of(
    _values,
    st.fixed_dictionaries(
        {"span": _scalars},
        optional={"duration_ms": _scalars, "status": _scalars, "usage": _values},
    ),
)
_keys = ("level", "correlation_id", "message", "event", "span_id", "parent_span_id", "user_id")
_line = st.fixed_dictionaries(
    {"timestamp": st.sampled_from(["2025-01-01T00:00:00.000Z", "2025-01-01T00:00:01.500Z", "bad"])},
    optional={**dict.fromkeys(_keys, _values), "data": _data, "exception": _values},
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_line, max_size=12))
def test_any_lines_render(raw_lines: list[dict[str, Any]]) -> None:
    """Parsed like the reader does, any lines build a tree, a text view, a page and a summary."""
    lines = []
    for raw in raw_lines:
        line, _ = parse_line(orjson.dumps(raw))
        assert line is not None
        lines.append(line)
    operation = build_operation(lines)
    assert len(operation.spans) + len(operation.loose) <= len(lines)
    assert isinstance(render_operation(operation, Style(color=True, verbose=True)), str)
    assert render_html(operation).startswith("<!DOCTYPE html>")
    assert sum(s.lines for s in summarize(lines)) <= len(lines)
