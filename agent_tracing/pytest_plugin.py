"""pytest plugin (registered through the ``pytest11`` entry point): the ``log_events`` fixture.

``log_events`` captures every JSON line emitted during the test (the real formatter, so redaction
and limits apply) and offers them normalised for snapshots::

    def test_backtest_logs(log_events, snapshot):
        run_backtest()
        assert log_events.events == snapshot
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_tracing.testing import CapturedEvents, capture_events


@pytest.fixture
def log_events() -> Iterator[CapturedEvents]:
    """Capture the JSON lines logged in the test (``.raw`` as emitted, ``.events`` normalised)."""
    with capture_events() as captured:
        yield captured
