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
import pytest
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


def test_line_budget_bounds_many_long_strings() -> None:
    """100 strings of 10 KB in one data dict give a line bounded by max_line, with a marker."""
    san = Sanitizer()
    data = {f"p{i}": f"{i} " + "word " * 2000 for i in range(100)}
    out = san.clean_mapping(data)
    size = len(orjson.dumps(out))
    assert size < san.limits.max_line + 2_000
    assert "p0" in out
    assert out["_line_budget"].startswith("[line budget: ")
    assert any("…[line budget: " in v for v in out.values() if isinstance(v, str))


def test_line_budget_bounds_deep_nesting() -> None:
    """10 levels of 100 long strings each stay within the budget, cut with markers."""

    def level(n: int) -> dict[str, object]:
        node: dict[str, object] = {"items": [f"{i} " + "text " * 2000 for i in range(100)]}
        if n < 10:
            node["next"] = level(n + 1)
        return node

    san = Sanitizer(limits=Limits(max_depth=20))
    out = san.clean_mapping(level(1))
    text = orjson.dumps(out).decode()
    assert len(text) < san.limits.max_line + 2_000
    assert "line budget: " in text


def test_line_budget_is_configurable_and_leaves_small_lines_alone() -> None:
    """A small max_line cuts early; a line under the budget is the same as without one."""
    small = Sanitizer(limits=Limits(max_line=100))
    out = small.clean({"a": "x" * 500, "b": [1, 2, 3]})
    assert out["a"] == "x" * (100 - 5) + "…[line budget: 405 more chars]"
    assert out["_line_budget"] == "[line budget: 1 more keys]"
    data = {"k": "v" * 300, "n": [1, {"m": "text"}], "i": 3}
    assert Sanitizer().clean_mapping(data) == Sanitizer(limits=Limits(max_line=10**9)).clean(data)


def test_line_budget_cut_never_reveals_a_secret() -> None:
    """A string cut by the budget is cut after redaction: a token across the cut never shows."""
    secret = "sk-" + "A1b2C3d4" * 4
    for pad in range(0, 60, 7):
        san = Sanitizer(limits=Limits(max_line=60))
        out = san.clean(["x" * pad + " key " + secret + " tail"])
        text = orjson.dumps(out).decode()
        assert secret[:12] not in text


def test_configure_logging_takes_max_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """configure_logging(max_line=...) and AGENT_TRACING_MAX_LINE set the line budget."""
    settings = at.configure_logging(console=False, json_output="stdout", max_line=1234)
    try:
        assert settings.limits.max_line == 1234
    finally:
        at.shutdown_logging()
    monkeypatch.setenv("AGENT_TRACING_MAX_LINE", "4321")
    settings = at.configure_logging(console=False, json_output="stdout")
    try:
        assert settings.limits.max_line == 4321
    finally:
        at.shutdown_logging()
    with pytest.raises(ValueError, match="max_line"):
        at.configure_logging(console=False, json_output="stdout", max_line=0)


def test_flat_fast_path_matches_the_general_walk() -> None:
    """The flat-dict path gives the general walk's result, under and over the line budget."""
    for budget in (10**9, 65536, 300, 40):
        san = Sanitizer(limits=Limits(max_line=budget))
        data = {
            "n": 7,
            "s": "ord-12",
            "long": "prose " * 60,
            "k" * 300: "v",
            "password": "hunter2",
            "f": 1.5,
            "none": None,
            "nested": {"a": ["b", 2]},
        }
        fast = san.clean_mapping(data)
        general = san._clean(data, 0, None, [budget])
        assert fast == general
