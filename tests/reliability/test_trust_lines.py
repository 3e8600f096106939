"""One record, one valid JSON line, always: Unicode line breaks, non-finite floats beside a lone
surrogate, huge ints in the context, unprintable messages next to foreign handlers, and the event
and logger name redacted and bounded like the message (core only: no framework)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import pytest

import agent_tracing as at
from agent_tracing.formatters import escape_controls
from tests.reliability.conftest import RAW_CONTROL, TwoViews, schema_line

#: Every character ``str.splitlines()`` splits on that is not a JSON escape already (C0 controls
#: are escaped by every JSON encoder), plus DEL and the whole C1 range.
LINE_BREAKERS = "\u2028\u2029\x85\x7f" + "".join(chr(code) for code in range(0x80, 0xA0))
SECRET = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"not strict JSON: {name}")


def strict_lines(text: str) -> list[dict[str, Any]]:
    """Split ``text`` as Python splits lines, and parse each as strict JSON (no NaN/Infinity)."""
    lines = text.splitlines()
    parsed = [json.loads(line, parse_constant=_no_constant) for line in lines]
    for line in lines:
        schema_line(line)
    return parsed


class Unprintable:
    """An object whose str() and repr() both raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class LenRaises(Mapping[str, Any]):
    """A mapping whose ``__len__`` (so its truth test) raises; lookups work."""

    def __getitem__(self, key: str) -> Any:
        return "value"

    def __len__(self) -> int:
        raise RuntimeError("no len")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no iter")


class IterRaises(Mapping[str, Any]):
    """A mapping whose iteration raises."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no iter")


def test_json_view_escapes_every_unicode_line_break(two_views: TwoViews) -> None:
    """U+2028/U+2029/U+0085, DEL and C1 are escaped: splitlines() gives one record per call."""
    log = at.BoundLogger(two_views.log.logger).bind(correlation_id=f"cid{LINE_BREAKERS}")
    log.info(f"m{LINE_BREAKERS}", data={f"k{LINE_BREAKERS}": f"v{LINE_BREAKERS}"}, event="e\x85")
    log.info("second")
    text = two_views.json.getvalue()
    lines = strict_lines(text)
    assert len(lines) == 2
    assert [char for char in LINE_BREAKERS if char in text] == []
    assert f"m{LINE_BREAKERS}" == lines[0]["message"]
    assert {f"k{LINE_BREAKERS}": f"v{LINE_BREAKERS}"} == lines[0]["data"]
    assert f"cid{LINE_BREAKERS}" == lines[0]["correlation_id"]


def test_json_view_escapes_line_breaks_beside_a_lone_surrogate() -> None:
    """The encoder fallback (a lone surrogate) escapes the line breaks too."""
    record = logging.LogRecord("x", logging.INFO, "", 0, f"\ud800{LINE_BREAKERS}", None, None)
    line = at.JsonFormatter().format_bytes(record)
    assert len(line.decode("utf-8").splitlines()) == 1
    assert f"\ud800{LINE_BREAKERS}" == strict_lines(line.decode("utf-8"))[0]["message"]


def test_json_view_keeps_ordinary_latin_and_symbols_raw() -> None:
    """Characters near the escaped ones (é, ©, NBSP, €, U+2027) are written as themselves."""
    text = "é © \xa0 € \u2027 \u202a"
    record = logging.LogRecord("x", logging.INFO, "", 0, text, None, None)
    line = at.JsonFormatter().format_bytes(record)
    assert text.encode("utf-8") in line


def test_console_view_escapes_every_control_and_line_break(two_views: TwoViews) -> None:
    """Message, data, logger name, event and traceback carry no raw control or line break."""
    name = f"hostile.{LINE_BREAKERS}\x1b"
    private = logging.Logger(name, logging.DEBUG)
    private.handlers[:] = two_views.log.logger.handlers
    log = at.BoundLogger(private)
    try:
        raise ValueError(f"boom{LINE_BREAKERS}\x1b]0;t\x07")
    except ValueError:
        log.exception(
            f"m{LINE_BREAKERS}\x1b[2J", data={"d": f"v{LINE_BREAKERS}"}, event=f"e{LINE_BREAKERS}"
        )
    console = two_views.console.getvalue()
    lines = console.split("\n")[:-1]
    assert [line for line in lines if RAW_CONTROL.search(line.replace("\x1b[", "CSI"))] == []
    assert [char for char in LINE_BREAKERS if char in console] == []
    assert escape_controls(LINE_BREAKERS) in console


def test_escape_controls_covers_c1_del_and_separators() -> None:
    """escape_controls leaves no character that splitlines() or a terminal acts on."""
    text = "".join(chr(code) for code in range(0x00, 0xA0)) + "\u2028\u2029"
    escaped = escape_controls(text)
    assert len(escaped.splitlines()) == 1
    assert RAW_CONTROL.search(escaped.replace("\t", "")) is None


def test_non_finite_floats_beside_a_lone_surrogate_stay_strict_json(two_views: TwoViews) -> None:
    """NaN/±inf with a lone surrogate in the same line become null, never bare NaN/Infinity."""
    data = {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "s": "\ud800"}
    two_views.log.info("floats \udfff", data={**data, "nested": [float("nan"), {"x": data}]})
    line = strict_lines(two_views.json.getvalue())[0]
    assert None is line["data"]["nan"]
    assert None is line["data"]["inf"]
    assert None is line["data"]["ninf"]
    assert line["data"]["s"] == "\ud800"
    assert None is line["data"]["nested"][0]
    assert None is line["data"]["nested"][1]["x"]["inf"]


def test_huge_int_bound_value_keeps_the_correlation_id(two_views: TwoViews) -> None:
    """A 5,000-digit bound user_id is bounded and marked; the correlation id and line stay."""
    log = two_views.log.bind(correlation_id="cid-1", user_id=10**5000)
    log.info("huge bound", data={"kept": 1})
    with at.bind(correlation_id="cid-2", strategy_id=-(10**5000)):
        two_views.log.info("huge context", backtest_id=10**5000)
    first, second = strict_lines(two_views.json.getvalue())
    assert (
        first["correlation_id"],
        first["message"],
        first["data"],
    ) == ("cid-1", "huge bound", {"kept": 1})
    assert (second["correlation_id"], second["message"]) == ("cid-2", "huge context")
    for value in (first["user_id"], second["strategy_id"], second["backtest_id"]):
        assert isinstance(value, str)
        assert "5001 digits" in value
        assert len(value) < 100


def test_huge_int_correlation_id_is_bounded(two_views: TwoViews) -> None:
    """A 5,000-digit int as the correlation id itself is written bounded, with the message."""
    two_views.log.info("cid", correlation_id=10**5000)
    line = strict_lines(two_views.json.getvalue())[0]
    assert line["message"] == "cid"
    assert "5001 digits" in line["correlation_id"]
    assert line["correlation_id"].startswith("10000")


@pytest.fixture
def foreign_root_handler() -> Iterator[io.StringIO]:
    """A plain stdlib StreamHandler with the stdlib Formatter on the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize(
    ("msg", "args", "shown"),
    [
        (Unprintable(), (), "<unrepresentable Unprintable>"),
        ("value %s", (Unprintable(),), "'value %s' (unformattable with args"),
        ("%(a)s", (LenRaises(),), "value"),
        ("%d", ("not a number",), "'%d' (unformattable with args"),
    ],
)
def test_unformattable_messages_never_raise_beside_foreign_handlers(
    two_views: TwoViews,
    foreign_root_handler: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    msg: object,
    args: tuple[object, ...],
    shown: str,
) -> None:
    """str/repr raising, a bad %-format or a mapping whose len raises: no exception, one line."""
    caplog.set_level(logging.INFO)
    at.get_logger("foreign.neighbours").warning(msg, *args)
    assert len(caplog.records) == 1
    assert shown in caplog.records[0].getMessage()
    assert shown in foreign_root_handler.getvalue()
    assert "Logging error" not in capsys.readouterr().err
    assert shown in strict_lines(two_views.json.getvalue())[0]["message"]


def test_formattable_args_stay_on_the_record_for_foreign_handlers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Plain msg and args reach other handlers untouched (a template groups lines there)."""
    caplog.set_level(logging.INFO)
    mapping = {"a": 1}
    at.get_logger("foreign.plain").info("n=%d %s", 3, "x")
    at.get_logger("foreign.plain").info("%(a)s", mapping)
    first, second = caplog.records
    assert (first.msg, first.args, first.getMessage()) == ("n=%d %s", (3, "x"), "n=3 x")
    assert ("%(a)s", mapping, "1") == (second.msg, second.args, second.getMessage())


def test_hostile_data_and_extra_mappings_are_logged_not_raised(two_views: TwoViews) -> None:
    """A data= or extra= mapping whose iteration raises is logged with a marker, not raised."""
    log = two_views.log.bind(user_id="u1")
    log.info("data", data=IterRaises())
    log.info("extra", extra=IterRaises())
    two_views.log.info("bare", data=IterRaises())
    lines = strict_lines(two_views.json.getvalue())
    assert [line["message"] for line in lines] == ["data", "extra", "bare"]
    assert [line["user_id"] for line in lines] == ["u1", "u1", None]


def test_event_and_logger_name_are_redacted_like_the_message(two_views: TwoViews) -> None:
    """A secret in event= or in the logger name is redacted in both views."""
    private = logging.Logger(f"svc.{SECRET}", logging.DEBUG)
    private.handlers[:] = two_views.log.logger.handlers
    at.BoundLogger(private).info("hello", event=f"login.{SECRET}")
    line = strict_lines(two_views.json.getvalue())[0]
    assert SECRET not in two_views.text()
    assert "[REDACTED]" in line["event"]
    assert "[REDACTED]" in line["logger"]
    assert "[REDACTED]" in line["component"]


def test_event_and_logger_name_are_bounded_like_the_message(two_views: TwoViews) -> None:
    """A 50,000-character event or logger name is cut to the string limit, with a marker."""
    private = logging.Logger("n" * 50_000, logging.DEBUG)
    private.handlers[:] = two_views.log.logger.handlers
    at.BoundLogger(private).info("hello", event="e" * 50_000)
    line = strict_lines(two_views.json.getvalue())[0]
    limit = at.get_sanitizer().limits.max_string
    for key in ("event", "logger", "component"):
        assert len(line[key]) < limit + 100
        assert "truncated" in line[key]
    assert len(two_views.console.getvalue()) < 3 * limit


def test_non_string_event_is_written_as_text(two_views: TwoViews) -> None:
    """An event passed as a non-string (an int, an object whose str raises) is text or a marker."""
    two_views.log.info("a", event=7)  # type: ignore[arg-type]
    two_views.log.info("b", event=Unprintable())  # type: ignore[arg-type]
    first, second = strict_lines(two_views.json.getvalue())
    assert first["event"] == "7"
    assert second["event"] == "<unrepresentable Unprintable>"


def test_fallback_line_redacts_the_logger_name_and_error() -> None:
    """When the real line cannot be built, the fallback line is redacted and valid too."""
    record = logging.LogRecord(f"svc.{SECRET}", logging.INFO, "", 0, f"m {SECRET}", None, None)
    record.created = f"not a time {SECRET}"  # type: ignore[assignment]
    line = at.JsonFormatter().format_bytes(record).decode("utf-8")
    assert SECRET not in line
    assert "_log_error" in strict_lines(line)[0]["data"]
