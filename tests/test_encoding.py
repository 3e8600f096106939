"""Encoding: any value becomes safe JSON; huge values are bounded; nothing ever raises."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import io
import json
import uuid
from decimal import Decimal
from pathlib import Path

import orjson
import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

import agent_tracing as at
from agent_tracing.encoding import Limits, Sanitizer
from agent_tracing.testing import CapturedEvents


class Color(enum.Enum):
    RED = "red"


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


class Model(pydantic.BaseModel):
    name: str
    when: dt.datetime


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_values_json_cannot_hold(log_events: CapturedEvents) -> None:
    """datetimes, decimals, UUIDs, bytes, sets, enums, models, dataclasses, exceptions encode."""
    value = {
        "when": dt.datetime(2025, 1, 29, 15, 0, tzinfo=dt.UTC),
        "day": dt.date(2025, 1, 29),
        "price": Decimal("1.10"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "raw": b"\xffbytes",
        "tags": {"b", "a"},
        "color": Color.RED,
        "model": Model(name="m", when=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
        "point": Point(1, 2),
        "error": ValueError("bad"),
        "path": Path("/tmp/x"),
        "bad": BadRepr(),
        "big": 2**80,
        "nan": float("nan"),
        7: "int key",
    }
    at.get_logger("app.x").info("values", data=value)
    data = log_events.raw[0]["data"]
    assert data["when"] == "2025-01-29T15:00:00+00:00"
    assert data["price"] == "1.10"
    assert data["raw"] == "\\xffbytes"
    assert data["tags"] == ["a", "b"]
    assert data["color"] == "red"
    assert data["model"] == {"name": "m", "when": "2025-01-01T00:00:00Z"}
    assert data["point"] == {"x": 1, "y": 2}
    assert data["error"] == {"type": "ValueError", "message": "bad"}
    assert data["bad"] == "<unrepresentable BadRepr>"
    assert data["big"] == str(2**80)
    assert data["7"] == "int key"


def test_cycles_and_deep_nesting_are_cut() -> None:
    """A self-reference becomes <cycle>; nesting past max_depth becomes a marker."""
    loop: dict[str, object] = {"a": 1}
    loop["self"] = loop
    deep: object = "leaf"
    for _ in range(50):
        deep = [deep]
    san = Sanitizer(limits=Limits(max_depth=5))
    assert san.clean(loop) == {"a": 1, "self": "<cycle>"}
    out = orjson.dumps(san.clean(deep)).decode()
    assert "max depth" in out
    assert out.count("[") <= 6


def test_oversized_strings_and_containers_are_truncated(log_events: CapturedEvents) -> None:
    """A 1 MB string and a 10,000-item list give a bounded line with markers."""
    at.get_logger("app.x").info("x" * 1_000_000, data={"items": list(range(10_000))})
    line = orjson.dumps(log_events.raw[0])
    assert len(line) < 20_000
    assert "[truncated 991808 chars]" in log_events.raw[0]["message"]
    assert log_events.raw[0]["data"]["items"][-1] == "…[9900 more items]"


def test_lone_surrogates_still_give_valid_json(log_events: CapturedEvents) -> None:
    """A string orjson refuses (lone surrogate) is escaped, not lost."""
    at.get_logger("app.x").info("bad \ud800 text", data={"k": "\udfff"})
    assert log_events.raw[0]["message"] == "bad \ud800 text"


def test_control_characters_cannot_forge_a_json_line() -> None:
    """CR/LF and ANSI escapes in a message stay inside one JSON line."""
    stream = io.StringIO()
    at.configure_logging(console=False, json_output="stdout")
    handler = at.JsonStreamHandler(stream)
    logger = at.get_logger("app.forge")
    logger.logger.addHandler(handler)
    try:
        logger.info('ok\n{"level":"CRITICAL","message":"forged"}\r\x1b[31m')
    finally:
        logger.logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert orjson.loads(lines[0])["message"].startswith("ok\n{")


_any_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.datetimes()
    | st.decimals()
    | st.uuids(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=10) | st.integers(), children, max_size=5)
        | st.frozensets(st.integers(), max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=_any_value, message=st.text())
def test_any_value_gives_one_valid_json_line(value: object, message: str) -> None:
    """Whatever is logged, the formatter returns exactly one line that parses as the schema."""
    formatter = at.JsonFormatter()
    logger = at.get_logger("app.hypothesis")
    records = []

    class Keep(__import__("logging").Handler):
        def emit(self, record: object) -> None:
            records.append(record)

    keep = Keep()
    logger.logger.addHandler(keep)
    logger.setLevel("DEBUG")
    try:
        logger.info(message, data={"value": value})
    finally:
        logger.logger.removeHandler(keep)
        logger.setLevel("NOTSET")
    line = formatter.format_bytes(records[0])
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    parsed = json.loads(line)  # the stdlib parser also takes escaped lone surrogates
    assert list(parsed)[:13] == list(at.SCHEMA_KEYS)


def test_str_subclass_keys_are_named_alike_whether_or_not_a_plain_key_was_seen() -> None:
    """A ``str``-mixin enum key equal to a key seen before is named as it is when unseen."""

    class Color(str, enum.Enum):  # noqa: UP042 - the mixin whose str() is not its value
        RED = "red"

    fresh = Sanitizer().clean_mapping({Color.RED: 1})
    warmed = Sanitizer()
    warmed.clean_mapping({"red": 0})
    assert warmed.clean_mapping({Color.RED: 1}) == fresh
