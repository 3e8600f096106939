"""A span's own keys (span, status, duration_ms) cannot be overwritten by user data."""

from __future__ import annotations

import agent_tracing as at
from agent_tracing.testing import CapturedEvents


def test_set_status_does_not_overwrite_the_span_status(log_events: CapturedEvents) -> None:
    """span.set(status=..., duration_ms=..., span=...) keeps the span's own values beside."""
    with at.span("run", kind="backtest", logger="app.x") as sp:
        sp.set(status="failed", duration_ms=-1, span="other", rows=3)
    end = log_events.by_event("backtest.end")[0]
    data = end["data"]
    assert (end["level"], data["span"], data["status"]) == ("INFO", "run", "ok")
    assert isinstance(data["duration_ms"], float)
    assert data["duration_ms"] >= 0
    assert {key: data[key] for key in ("status_", "duration_ms_", "span_", "rows")} == {
        "status_": "failed",
        "duration_ms_": -1,
        "span_": "other",
        "rows": 3,
    }


def test_finish_data_and_start_fields_cannot_overwrite_reserved_keys(
    log_events: CapturedEvents,
) -> None:
    """finish(data={"status": ...}) and span(..., span=...) keep the span's own keys too."""
    sp = at.span("run", logger="app.x", data={"span": "mine"}).start()
    sp.finish(data={"status": "error", "n": 1})
    start, end = log_events.raw
    assert (start["data"]["span"], start["data"]["span_"]) == ("run", "mine")
    assert (
        end["level"],
        end["data"]["status"],
        end["data"]["status_"],
        end["data"]["n"],
    ) == ("INFO", "ok", "error", 1)


def test_an_explicit_status_argument_still_sets_the_status(log_events: CapturedEvents) -> None:
    """finish(status="rejected") is the span's status, as before."""
    at.span("run", logger="app.x").start().finish(status="rejected")
    assert log_events.raw[-1]["data"]["status"] == "rejected"
