"""Line filters: operation prefix, ids, level (span boundaries kept) and time window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agent_tracing.viewer.filters import LineFilter, is_span_boundary, parse_time


def _line(**fields: Any) -> dict[str, Any]:
    base = {"timestamp": "2025-01-29T15:00:00.000Z", "level": "INFO", "correlation_id": "abc-1"}
    return {**base, **fields}


def test_times_parse_to_schema_timestamps() -> None:
    """ISO forms (with or without zone, date only) and relative ``15m``/``2h``/``1d`` ago."""
    now = datetime(2025, 1, 29, 15, 0, tzinfo=UTC)
    assert [
        parse_time("2025-01-29T15:00:00Z"),
        parse_time("2025-01-29T16:00:00+01:00"),
        parse_time("2025-01-29"),
        parse_time("15m", now),
        parse_time("2d", now),
        parse_time("30s", now),
    ] == [
        "2025-01-29T15:00:00.000Z",
        "2025-01-29T15:00:00.000Z",
        "2025-01-29T00:00:00.000Z",
        "2025-01-29T14:45:00.000Z",
        "2025-01-27T15:00:00.000Z",
        "2025-01-29T14:59:30.000Z",
    ]
    with pytest.raises(ValueError, match="invalid time 'yesterday'"):
        parse_time("yesterday")


def test_operation_ids_and_window() -> None:
    """A correlation id prefix, ids compared as text, and an inclusive time window."""
    line = _line(user_id="user_1", strategy_id=456)
    assert LineFilter(correlation_id="abc")(line)
    assert not LineFilter(correlation_id="abd")(line)
    assert LineFilter(user_id="user_1", strategy_id="456")(line)
    assert not LineFilter(backtest_id="789")(line)
    assert LineFilter(since="2025-01-29T15:00:00.000Z", until="2025-01-29T15:00:00.000Z")(line)
    assert not LineFilter(since="2025-01-29T15:00:00.001Z")(line)


def test_level_keeps_span_boundaries() -> None:
    """``min_level`` drops quieter lines but keeps span start/end lines for the tree's shape."""
    start = _line(event="task.start", data={"span": "t"})
    inner_start = _line(event="agent.graph.start", data={"nodes": 3})
    debug = _line(level="DEBUG")
    warning_filter = LineFilter(min_level=30)
    assert [
        warning_filter(start),
        warning_filter(inner_start),
        warning_filter(debug),
        warning_filter(_line(level="ERROR")),
    ] == [True, False, False, True]
    assert (is_span_boundary(start), is_span_boundary(inner_start)) == (True, False)
