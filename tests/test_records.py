"""Tests of ``agent_tracing.records``: timestamps."""

from __future__ import annotations

import datetime as dt

import pytest

from agent_tracing.records import format_timestamp


@pytest.mark.parametrize(
    "created",
    [0.0, 0.5, 1.999, -0.001, -1.5, -86400.25, 1764255600.0, 1764255600.999, 1764255601.0005],
)
def test_format_timestamp_matches_datetime(created: float) -> None:
    """The text is datetime's UTC ISO form cut to milliseconds, before 1970 too."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=created)
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert format_timestamp(created) == expected


def test_format_timestamp_of_an_impossible_time_is_a_fixed_text() -> None:
    """NaN and infinities give a fixed epoch text rather than an error."""
    for created in (float("nan"), float("inf"), float("-inf")):
        assert format_timestamp(created) == "1970-01-01T00:00:00.000Z"
