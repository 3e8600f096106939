"""The terminal tree: its text for a real run, colours, and text that cannot forge lines."""

from __future__ import annotations

import io

import pytest
from syrupy.assertion import SnapshotAssertion

from agent_tracing.viewer.reader import ReadStats, read_lines
from agent_tracing.viewer.terminal import Style, format_ms, render_operation, use_color
from agent_tracing.viewer.tree import build_operation
from tests.viewer.conftest import LoggedOperation


def _render(operation: LoggedOperation, style: Style) -> str:
    return render_operation(build_operation(read_lines(operation.files, ReadStats())), style)


def test_committed_fixture_renders_as_a_tree(
    committed_operation: LoggedOperation, snapshot: SnapshotAssertion
) -> None:
    """Every span with duration and status, decisions, SQL summaries, warnings, files, error."""
    text = _render(committed_operation, Style())
    assert "\x1b[" not in text
    assert text.splitlines() == snapshot


def test_verbose_lists_each_query_and_debug_line(committed_operation: LoggedOperation) -> None:
    """``verbose`` replaces the SQL summary by each ``db.query`` line."""
    quiet, verbose = (
        _render(committed_operation, Style()),
        _render(committed_operation, Style(verbose=True)),
    )
    assert ("SQL: 3 queries" in quiet, "SQL:" in verbose) == (True, False)
    assert verbose.count("db.query: ") == 5


def test_colours_mark_status_and_levels(committed_operation: LoggedOperation) -> None:
    """With colour on, failures are red and warnings yellow."""
    text = _render(committed_operation, Style(color=True))
    assert "\x1b[31m\x1b[1m✗\x1b[0m" in text
    assert "\x1b[33m⚠ Data download retry" in text


def test_colour_follows_the_terminal_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    """Auto colour is off for a pipe, on for ``always``, and ``NO_COLOR`` wins in auto."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert (
        use_color(io.StringIO()),
        use_color(io.StringIO(), "always"),
        use_color(io.StringIO(), "never"),
    ) == (False, True, False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(io.StringIO())


def test_control_characters_in_messages_are_escaped() -> None:
    """A message with a newline and an escape sequence stays on one line, uncoloured."""
    operation = build_operation(
        [
            {
                "timestamp": "2025-01-01T00:00:00.000Z",
                "level": "INFO",
                "message": "evil\n└─ ✓ fake span\x1b[31m",
                "data": None,
                "event": None,
                "span_id": None,
            }
        ]
    )
    text = render_operation(operation, Style())
    assert "evil\\n└─ ✓ fake span\\x1b[31m" in text
    assert len(text.splitlines()) == 3


def test_durations_read_well() -> None:
    """Microseconds, milliseconds, seconds and minutes each get their unit."""
    assert [
        format_ms(0.85),
        format_ms(12.34),
        format_ms(4520),
        format_ms(125_000),
        format_ms(None),
    ] == ["850 µs", "12.3 ms", "4.52 s", "2m 05s", "—"]
