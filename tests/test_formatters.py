"""Formatters: JSON schema details, the console view, dictConfig construction."""

from __future__ import annotations

import contextvars
import io
import logging
import logging.config
import re

import orjson
import pytest

import agent_tracing as at
from agent_tracing.testing import capture_events


def _console(stream: io.StringIO, **kwargs: object) -> logging.Logger:
    at.configure_logging(json=False, console_stream=stream, console_level="DEBUG", **kwargs)  # type: ignore[arg-type]
    return logging.getLogger()


def test_timestamp_is_iso_utc_with_milliseconds(tmp_path: object) -> None:
    """timestamp looks like 2025-01-29T15:00:00.000Z."""
    record = logging.LogRecord("x", logging.INFO, "", 0, "m", None, None)
    record.created = 1738162800.1234
    line = orjson.loads(at.JsonFormatter().format(record))
    assert line["timestamp"] == "2025-01-29T15:00:00.123Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])


def test_console_line_has_level_name_short_id_and_data() -> None:
    """The console line is the seed's format plus a short correlation id and data."""
    stream = io.StringIO()
    _console(stream, color=False)
    with at.bind(correlation_id="a1b2c3d4-e5f6-7890-1234-567890abcdef"):
        at.get_logger("app.x").info("hello", data={"n": 1})
    assert stream.getvalue() == 'INFO     app.x [a1b2c3d4] - hello {"n":1}\n'


def test_console_colours_off_for_non_tty_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    """No escape codes when the stream is not a terminal or NO_COLOR is set; forced on works."""
    stream = io.StringIO()
    _console(stream)
    at.get_logger("app.x").info("plain")
    assert "\x1b[" not in stream.getvalue()
    stream = io.StringIO()
    _console(stream, color=True)
    at.get_logger("app.x").info("coloured")
    assert "\x1b[32m" in stream.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    stream = io.StringIO()
    _console(stream)
    at.get_logger("app.x").info("plain again")
    assert "\x1b[" not in stream.getvalue()


def test_console_escapes_control_characters() -> None:
    """A message with CR/LF/ESC cannot forge a line or recolour the console."""
    stream = io.StringIO()
    _console(stream, color=False)
    at.get_logger("app.x").info(
        "a\nERROR    app.fake [x] - forged\r\x1b[31mred", data={"k": "\x1b]0;t"}
    )
    out = stream.getvalue()
    assert out.count("\n") == 1
    assert "\x1b" not in out
    assert "\\n" in out
    assert "\\x1b" in out


def test_console_escapes_bidirectional_controls_and_lone_surrogates() -> None:
    """A right-to-left override cannot make the console line read other than it is, and a lone
    surrogate (which no UTF-8 stream can encode) is shown as its escape instead of failing."""
    stream = io.StringIO()
    _console(stream, color=False)
    at.get_logger("app.x").info("user \u202eexe.txt \ud800 done")
    out = stream.getvalue()
    assert "user \\u202eexe.txt \\ud800 done" in out
    out.encode("utf-8")  # no lone surrogate left


def test_console_traceback_is_indented_and_redacted() -> None:
    """The traceback follows on indented lines, redacted."""
    stream = io.StringIO()
    _console(stream, color=False)
    try:
        raise ValueError("password=hunter22")
    except ValueError:
        at.get_logger("app.x").exception("failed")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("ERROR    app.x")
    assert all(line.startswith("    ") for line in lines[1:])
    assert "hunter22" not in stream.getvalue()


def test_dictconfig_builds_our_formatters_and_handlers(tmp_path: object) -> None:
    """Users who configure logging themselves can build every piece with dictConfig."""
    path = f"{tmp_path}/app.jsonl"
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"context": {"()": "agent_tracing.ContextFilter"}},
            "formatters": {
                "json": {"()": "agent_tracing.JsonFormatter"},
                "console": {"()": "agent_tracing.ConsoleFormatter", "no_color": True},
            },
            "handlers": {
                "file": {"class": "agent_tracing.JsonFileHandler", "filename": path},
                "console": {
                    "class": "logging.StreamHandler",
                    "stream": stream,
                    "formatter": "console",
                    "filters": ["context"],
                },
                "json_stream": {
                    "class": "logging.StreamHandler",
                    "stream": stream,
                    "formatter": "json",
                },
            },
            "loggers": {
                "dictcfg": {"handlers": ["file", "console", "json_stream"], "level": "INFO"}
            },
        }
    )
    log = logging.getLogger("dictcfg")
    try:
        with at.bind(correlation_id="cid-dc"):
            at.get_logger("dictcfg").info("configured", data={"a": 1})
    finally:
        for handler in list(log.handlers):
            log.removeHandler(handler)
            handler.close()
    with open(path, "rb") as handle:
        line = orjson.loads(handle.read())
    assert line["correlation_id"] == "cid-dc"
    assert "INFO     dictcfg [cid-dc] - configured" in stream.getvalue()


def test_formatter_failure_gives_a_fallback_line() -> None:
    """A record that cannot be read still gives one schema line with _log_error."""
    record = logging.LogRecord("x", logging.INFO, "", 0, "m", None, None)
    record.__dict__["_at_data"] = object.__new__(type("Weird", (), {"items": 1}))
    record.__dict__["_at_ctx"] = 12  # not a mapping: building the line fails
    line = orjson.loads(at.JsonFormatter().format(record))
    assert list(line) == list(at.SCHEMA_KEYS)
    assert "_log_error" in line["data"]


def test_console_escapes_context_values_and_logger_names() -> None:
    """A correlation id or logger name holding CR/LF/ESC cannot forge a console line or colour."""
    stream = io.StringIO()
    formatter = at.ConsoleFormatter(
        "%(name)s %(short_correlation_id)s %(correlation_id)s %(user_id)s %(message)s",
        stream=stream,
        no_color=True,
    )
    record = logging.LogRecord("evil\n\x1b[31m", logging.INFO, __file__, 1, "hi", None, None)
    with at.bind(correlation_id="\r\nFORGED\x1b[2J", user_id="\x1b[31mred"):
        at.ContextFilter().filter(record)
        line = formatter.format(record)
    assert line == ("evil\\n\\x1b[31m \\r\\nFORGED\\x1b[2J \\r\\nFORGED\\x1b[2J \\x1b[31mred hi")


def test_console_keeps_data_holding_lone_surrogates() -> None:
    """``data`` with a lone surrogate is shown (escaped), not replaced by a log-error line."""
    stream = io.StringIO()
    _console(stream, color=False)
    at.get_logger("app").info("hi", data={"text": "lone \ud800"})
    line = stream.getvalue()
    assert "log error" not in line
    assert '"lone \\ud800"' in line


def test_truncation_cuts_bound_keys_before_the_calls_own() -> None:
    """Past max_items keys of bound fields plus data, the call's data keys are all kept."""

    def run() -> tuple[dict[str, object], dict[str, object]]:
        at.bind_contextvars(**{f"bound{i}": i for i in range(99)})
        log = at.get_logger("x")
        with capture_events() as events:
            log.info("m", data={"own1": 1, "own2": 2, "own3": 3})
            log.info("m", data={"own1": 1})
        return events.raw[0]["data"], events.raw[1]["data"]

    cut, whole = contextvars.copy_context().run(run)
    assert [cut["own1"], cut["own2"], cut["own3"]] == [1, 2, 3]
    assert cut["_truncated_keys"] == 3
    assert len(cut) == 100
    assert list(whole) == [*(f"bound{i}" for i in range(99)), "own1"]
