"""The console view's short correlation id tells non-UUID ids apart."""

from __future__ import annotations

import io

import pytest

import agent_tracing as at
from agent_tracing.formatters import short_correlation_id


def _console_line(correlation_id: str) -> str:
    stream = io.StringIO()
    at.configure_logging(json=False, console_stream=stream, color=False)
    try:
        with at.bind(correlation_id=correlation_id):
            at.get_logger("app.x").info("hi")
    finally:
        at.shutdown_logging()
    return stream.getvalue()


def test_non_uuid_ids_are_shown_whole_on_the_console() -> None:
    """req-chat-42 and req-chat-43 are two different ids on the console."""
    assert [
        _console_line("req-chat-42"),
        _console_line("req-chat-43"),
    ] == ["INFO     app.x [req-chat-42] - hi\n", "INFO     app.x [req-chat-43] - hi\n"]


@pytest.mark.parametrize(
    ("correlation_id", "shown"),
    [
        ("a1b2c3d4-e5f6-4890-9234-567890abcdef", "a1b2c3d4"),
        ("A1B2C3D4-E5F6-4890-9234-567890ABCDEF", "A1B2C3D4"),
        ("a1b2c3d4e5f64890a234567890abcdef", "a1b2c3d4"),
        ("req-chat-42", "req-chat-42"),
        ("x" * 32, "x" * 32),
        ("y" * 33, "y" * 31 + "…"),
        ("a1b2c3d4-e5f6-4890-9234-567890abcdeg", "a1b2c3d4-e5f6-4890-9234-567890a…"),
        ("id\x1b[2J\r\n", "id\\x1b[2J\\r\\n"),
        ("", "-"),
    ],
)
def test_short_correlation_id_rule(correlation_id: str, shown: str) -> None:
    """A UUID shows 8 hex digits; any other id shows whole up to 32 characters, escaped."""
    assert shown == short_correlation_id(correlation_id)


def test_short_correlation_id_of_a_non_text_id() -> None:
    """An int id (a bound number) and None are shown without raising."""
    assert (short_correlation_id(12345), short_correlation_id(None)) == ("12345", "-")
