"""The shipped pytest plugin and normalisation helpers."""

from __future__ import annotations

import agent_tracing as at
from agent_tracing.testing import CapturedEvents, normalize_events


def test_log_events_fixture_normalises_volatile_values(log_events: CapturedEvents) -> None:
    """Timestamps, ids and durations become numbered placeholders; equal ids stay equal."""
    with at.bind(correlation_id=at.new_correlation_id()), at.span("a", kind="job"):
        at.get_logger("app.x").info("x", data={"run_id": "r-1", "nested": {"duration_ms": 3.2}})
    events = log_events.events
    assert {e["correlation_id"] for e in events} == {"<cid:1>"}
    assert {e["span_id"] for e in events} == {"<span:1>"}
    assert events[1]["data"] == {"run_id": "<id:1>", "nested": {"duration_ms": "<duration_ms>"}}
    assert all(e["timestamp"] == "<timestamp>" for e in events)


def test_normalize_keeps_the_last_traceback_line() -> None:
    """An exception's traceback is reduced to its last line."""
    (line,) = normalize_events(
        [{"exception": {"type": "E", "message": "m", "traceback": "Traceback...\n  x\nE: m"}}]
    )
    assert line["exception"]["traceback"] == "E: m"


def test_plugin_is_registered_through_the_entry_point() -> None:
    """The package declares the pytest11 entry point that provides log_events."""
    from importlib.metadata import entry_points

    names = {ep.value for ep in entry_points(group="pytest11")}
    assert "agent_tracing.pytest_plugin" in names
