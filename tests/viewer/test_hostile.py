"""Hostile log files (written by anything, not only our formatter) against every viewer command.

No raw control reaches the terminal, a line with a lone surrogate or bad UTF-8 is still shown,
and a secret that reached the file unredacted is not shown.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_tracing.cli import main
from agent_tracing.encoding import Sanitizer, get_sanitizer, set_sanitizer
from agent_tracing.redaction import Redactor
from agent_tracing.viewer.reader import parse_line
from tests.conftest import ROOT

# Terminal title (OSC ... BEL), clear screen, a colour, a forged line (CR LF), 8-bit CSI, the
# Unicode line separators, NEL, DEL, NUL, backspace, form feed.
HOSTILE = (
    "\x1b]0;pwned\x07|\x1b[2J|\x1b[31mINJECTED|\r\nFORGED|\rOVER|\x9b31m|\u2028|\u2029"
    "|\x85|\x7f|\x00|\x08|\x0c|\x1b\\"
)
OPERATION = f"op-{HOSTILE}-1"
OTHER = f"op-{HOSTILE}-2"
# The colours the viewer itself writes with --color always; nothing else may start with ESC.
_OWN_SGR = re.compile(r"\x1b\[(?:0|1|2|3[1-6])m")


def _bad_characters(text: str) -> list[str]:
    """The characters of ``text`` a terminal must never get raw from a log value."""
    return [
        char
        for char in _OWN_SGR.sub("", text)
        if (ord(char) < 0x20 and char not in "\t\n")
        or 0x7F <= ord(char) < 0xA0
        or char in "\u2028\u2029"
        or 0xD800 <= ord(char) < 0xE000
    ]


def _assert_clean(text: str) -> None:
    assert _bad_characters(text) == []
    assert "\x1b[31mINJECTED" not in text
    assert "\nFORGED" not in text


def _line(timestamp: str, **fields: Any) -> dict[str, Any]:
    base = {
        "timestamp": f"2025-01-01T00:00:{timestamp}Z",
        "level": "INFO",
        "correlation_id": OPERATION,
        "user_id": f"user-{HOSTILE}",
        "component": HOSTILE,
        "logger": f"app.{HOSTILE}",
        "message": f"message {HOSTILE}",
    }
    return {**base, **fields}


def _hostile_lines() -> list[dict[str, Any]]:
    span = f"s1{HOSTILE}"
    child = f"s2{HOSTILE}"
    exception = {"type": f"Err{HOSTILE}", "message": HOSTILE, "traceback": f"tb{HOSTILE}"}
    return [
        _line("00.000", correlation_id=OTHER, message="earlier operation"),
        _line(
            "01.000",
            event="http.request.start",
            data={"span": f"GET /{HOSTILE}"},
            span_id=span,
            parent_span_id=None,
        ),
        _line(
            "01.100",
            event=f"agent.{HOSTILE}",
            level="WARNING",
            data={f"key{HOSTILE}": f"value{HOSTILE}", "list": [HOSTILE, {HOSTILE: HOSTILE}]},
            span_id=span,
            parent_span_id=None,
        ),
        _line(
            "01.200",
            event=f"{HOSTILE}.start",
            data={"span": f"child{HOSTILE}", "prompt_tokens": 3},
            span_id=child,
            parent_span_id=span,
        ),
        _line("01.300", event="db.query", level="DEBUG", data={"sql": HOSTILE}, span_id=child),
        _line("01.350", level="ERROR", exception=exception, span_id=child),
        _line(
            "01.400",
            event=f"{HOSTILE}.end",
            data={
                "span": f"child{HOSTILE}",
                "duration_ms": 2.0,
                "status": f"st{HOSTILE}",
                "output_file": f"out/{HOSTILE}.json",
                "total_tokens": 9,
            },
            span_id=child,
            parent_span_id=span,
            exception=exception,
        ),
        _line(
            "01.500",
            event="http.request.end",
            level="ERROR",
            data={"span": f"GET /{HOSTILE}", "duration_ms": 5.0, "status": f"st{HOSTILE}"},
            span_id=span,
            parent_span_id=None,
            exception=exception,
        ),
        _line("01.600", message=f"loose {HOSTILE}", data={HOSTILE: [HOSTILE]}),
    ]


def _write(path: Path, lines: list[dict[str, Any]]) -> str:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command in this process; return its status, stdout and stderr."""
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue(), capsys.readouterr().err


@pytest.fixture
def hostile_file(tmp_path: Path) -> str:
    """A log file of two operations whose every text field carries terminal controls."""
    return _write(tmp_path / "hostile.jsonl", _hostile_lines())


_COMMANDS = [
    ("list",),
    ("list", "--json"),
    ("view",),
    ("view", "-v"),
    ("view", "-v", "--data-chars", "5000"),
    ("view", "--color", "always", "-v"),
    ("view", "--no-rotated", "--level", "DEBUG"),
    ("html", "-o", "-"),
]


@pytest.mark.parametrize("command", _COMMANDS, ids=" ".join)
def test_no_raw_control_reaches_the_terminal(
    hostile_file: str, command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command prints log values with their controls escaped, stdout and stderr alike."""
    status, out, err = _run(capsys, *command, hostile_file)
    assert status == 0
    assert "pwned" in out
    _assert_clean(out)
    _assert_clean(err)
    if command[0] == "html":
        _assert_clean(_page_text(out))


def test_view_shows_escaped_values(hostile_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The escapes are visible where the values were: ``\\x1b]0;pwned\\x07``, ``\\r\\n``."""
    _, out, _ = _run(capsys, "view", "-v", "--data-chars", "5000", hostile_file)
    assert "\\x1b]0;pwned\\x07" in out
    assert "\\r\\nFORGED" in out
    assert "\\x9b31m" in out
    assert "\\u2028" in out


def test_errors_on_stderr_escape_log_values(
    hostile_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ambiguous id prefix lists the matching ids from the log on stderr, escaped."""
    status, out, err = _run(capsys, "view", hostile_file, "-c", "op-")
    assert (status, out) == (2, "")
    assert "matches 2 operations" in err
    _assert_clean(err)


def test_html_file_has_no_raw_controls(
    hostile_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page written to a file holds no raw control, in its text, attributes or script."""
    target = tmp_path / "page.html"
    status, _, err = _run(capsys, "html", hostile_file, "-o", str(target), "--title", HOSTILE)
    page = target.read_text(encoding="utf-8")
    assert status == 0
    _assert_clean(page.replace("\n", ""))
    _assert_clean(err)


def test_html_script_cannot_be_closed_by_a_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``</script>``, quotes and ``<!--`` in values stay inside the page's JSON, unparsed."""
    attack = "</script><script>alert(1)</script>\"'<!--<img src=x onerror=alert(2)>"
    path = _write(
        tmp_path / "attack.jsonl",
        [
            {
                "timestamp": "2025-01-01T00:00:00.000Z",
                "level": "INFO",
                "correlation_id": "op1",
                "message": attack,
                "event": attack,
                "data": {attack: attack},
            }
        ],
    )
    status, page, _ = _run(capsys, "html", path, "-o", "-", "--title", attack)
    assert status == 0
    assert page.count("<script") == 2
    assert page.count("</script>") == 2
    assert "<img" not in page
    assert "<!--" not in page
    data = page.split('id="trace-data">', 1)[1].split("</script>", 1)[0]
    assert attack == orjson.loads(data)["loose"][0]["message"]


def test_follow_prints_no_raw_control(
    hostile_file: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``view --follow`` (tree so far, then each appended line) escapes log values too."""
    later = [
        {**line, "timestamp": line["timestamp"].replace(":01.", ":02.")}
        for line in _hostile_lines()[1:]
    ]
    for verbose in ((), ("-v",)):
        calls: list[int] = []

        def fake_sleep(_: float, calls: list[int] = calls) -> None:
            calls.append(1)
            if len(calls) == 1:
                with open(hostile_file, "ab") as handle:
                    handle.write(b"".join(orjson.dumps(line) + b"\n" for line in later))
                return
            raise KeyboardInterrupt

        monkeypatch.setattr("agent_tracing.cli.time.sleep", fake_sleep)
        status, out, err = _run(capsys, "view", hostile_file, "--follow", *verbose)
        assert status == 0
        following = out.split("-- following; Ctrl-C to stop --", 1)[1]
        assert "pwned" in following
        _assert_clean(out)
        _assert_clean(err)


# -- lone surrogates and bad UTF-8 ------------------------------------------------------------

_SURROGATE_LINES = [
    b'{"timestamp":"2025-01-01T00:00:00.000Z","level":"INFO","correlation_id":"op",'
    b'"message":"start","event":"task.start","data":{"span":"t"},"span_id":"a"}',
    b'{"timestamp":"2025-01-01T00:00:01.000Z","level":"ERROR","correlation_id":"op",'
    b'"message":"boom \\ud800 lone","span_id":"a","data":{"k\\udc00":"v\\udfff"}}',
    b'{"timestamp":"2025-01-01T00:00:02.000Z","level":"ERROR","correlation_id":"op",'
    b'"message":"bad bytes \xff\xfe\xc3 here","span_id":"a"}',
    b'{"timestamp":"2025-01-01T00:00:02.500Z","level":"WARNING","correlation_id":"op",'
    b'"message":"numbers \\udfff","span_id":"a","data":{"nan":NaN,"inf":-Infinity,'
    b'"big":' + b"7" * 5000 + b',"wide":' + str(2**70).encode() + b"}}",
    b'{"timestamp":"2025-01-01T00:00:03.000Z","level":"INFO","correlation_id":"op",'
    b'"message":"end","event":"task.end","data":{"span":"t","status":"ok"},"span_id":"a"}',
]


@pytest.fixture
def surrogate_file(tmp_path: Path) -> str:
    """An operation with an ERROR line holding a lone surrogate and one with bad UTF-8."""
    path = tmp_path / "surrogates.jsonl"
    path.write_bytes(b"\n".join(_SURROGATE_LINES) + b"\n")
    return str(path)


def test_reader_keeps_lines_with_lone_surrogates_and_bad_utf8() -> None:
    """``parse_line`` (the reader and ``--follow``) returns such lines instead of skipping them."""
    parsed = [parse_line(raw)[0] for raw in _SURROGATE_LINES]
    assert [line["message"] if line is not None else None for line in parsed] == [
        "start",
        "boom \ud800 lone",
        "bad bytes \ufffd\ufffd\ufffd here",
        "numbers \udfff",
        "end",
    ]


@pytest.mark.parametrize("command", _COMMANDS, ids=" ".join)
def test_lines_with_lone_surrogates_are_shown(
    surrogate_file: str, command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command reads all five lines (surrogates, bad UTF-8, NaN, a 5,000-digit int),
    shows both ERROR lines, and prints no surrogate."""
    status, out, err = _run(capsys, *command, surrogate_file)
    assert status == 0
    assert "malformed" not in err
    _assert_clean(out)
    if command == ("list", "--json"):
        row = orjson.loads(out)
        assert (row["lines"], row["errors"], row["warnings"]) == (5, 2, 1)
    elif command[0] == "list":
        assert out.splitlines()[-1].split()[-2:] == ["5", "2"]
    else:
        shown = _page_text(out) if command[0] == "html" else out
        assert "boom \\ud800 lone" in shown
        assert "bad bytes \ufffd\ufffd\ufffd here" in shown
        assert "numbers \\udfff" in shown
        if command[0] == "html":
            assert str(2**70) in shown


def _page_text(page: str) -> str:
    """The text of every value in the page's embedded JSON (what the page can show)."""
    data = orjson.loads(page.split('id="trace-data">', 1)[1].split("</script>", 1)[0])
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                texts.append(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return "\n".join(texts)


def test_surrogates_reach_a_real_utf8_stdout_as_escapes(
    surrogate_file: str, tmp_path: Path
) -> None:
    """Through the console script on a strict UTF-8 stdout, the ERROR line prints, escaped."""
    done = subprocess.run(
        [sys.executable, "-m", "agent_tracing.cli", "view", surrogate_file, "--color", "never"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "utf-8:strict", "PYTHONPATH": str(ROOT)},
        check=False,
    )
    out = done.stdout.decode("utf-8")
    assert (done.returncode, done.stderr) == (0, b"")
    assert "boom \\ud800 lone" in out
    assert "2 errors" in out


# -- secrets ----------------------------------------------------------------------------------

_SECRET_LINES = [
    {
        "timestamp": "2025-01-01T00:00:00.000Z",
        "level": "INFO",
        "correlation_id": "op-secret",
        "message": "GET /login?token=span-secret-1 started",
        "event": "http.request.start",
        "data": {"span": "GET /login?token=span-secret-1"},
        "span_id": "a",
        "password": "top-secret-2",
    },
    {
        "timestamp": "2025-01-01T00:00:01.000Z",
        "level": "ERROR",
        "correlation_id": "op-secret",
        "message": "login with password=msg-secret-3 failed",
        "data": {
            "api_key": "data-secret-4",
            "Authorization": "Bearer data-secret-5abcdefgh",
            "nested": {"client_secret": "data-secret-6", "note": "token=data-secret-7"},
            "list": ["password=data-secret-8"],
        },
        "exception": {
            "type": "LoginError",
            "message": "password=exc-secret-9",
            "traceback": "Traceback: secret=tb-secret-10",
        },
        "span_id": "a",
    },
    {
        "timestamp": "2025-01-01T00:00:02.000Z",
        "level": "INFO",
        "correlation_id": "op-secret",
        "message": "GET /login finished",
        "event": "http.request.end",
        "data": {"span": "GET /login?token=span-secret-1", "status": "ok", "duration_ms": 2},
        "span_id": "a",
    },
]


@pytest.fixture
def secret_file(tmp_path: Path) -> str:
    """An operation written by another logger: secrets in messages, keys, data and exceptions."""
    return _write(tmp_path / "secrets.jsonl", _SECRET_LINES)


@pytest.mark.parametrize("command", _COMMANDS, ids=" ".join)
def test_secrets_in_the_file_are_not_shown(
    secret_file: str, command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """Values under secret keys and secrets in text show as ``[REDACTED]`` in every view."""
    status, out, err = _run(capsys, *command, secret_file)
    assert status == 0
    shown = _page_text(out) if command[0] == "html" else out
    assert re.findall(r"[a-z]+-secret-\d+", out + shown + err) == []
    if command[0] != "list":
        assert "[REDACTED]" in out


def test_follow_does_not_show_secrets(
    secret_file: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--follow`` redacts the tree it starts with and each line appended later."""
    later = [{**line, "timestamp": line["timestamp"].replace(":0", ":1")} for line in _SECRET_LINES]
    calls: list[int] = []

    def fake_sleep(_: float) -> None:
        calls.append(1)
        if len(calls) == 1:
            with open(secret_file, "ab") as handle:
                handle.write(b"".join(orjson.dumps(line) + b"\n" for line in later))
            return
        raise KeyboardInterrupt

    monkeypatch.setattr("agent_tracing.cli.time.sleep", fake_sleep)
    status, out, err = _run(capsys, "view", secret_file, "--follow", "-v", "--data-chars", "999")
    assert status == 0
    assert "[REDACTED]" in out.split("-- following", 1)[1]
    assert re.findall(r"[a-z]+-secret-\d+", out + err) == []


def test_the_configured_redactor_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Custom patterns of the active sanitizer (``configure_logging``) apply to the viewer too."""
    path = _write(
        tmp_path / "custom.jsonl",
        [
            {
                "timestamp": "2025-01-01T00:00:00.000Z",
                "correlation_id": "op",
                "message": "ACME-12345",
            }
        ],
    )
    previous = get_sanitizer()
    set_sanitizer(Sanitizer(Redactor(patterns=[r"ACME-\d+"])))
    try:
        outputs = [_run(capsys, *command, path)[1] for command in _COMMANDS[2:]]
    finally:
        set_sanitizer(previous)
    assert [False] * len(outputs) == ["ACME-12345" in out for out in outputs]


def test_file_names_on_stderr_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file name with controls, quoted in "cannot read" and "skipped malformed", is escaped."""
    named = tmp_path / f"app{HOSTILE.replace('/', '').replace(chr(0), '')}.jsonl"
    named.write_bytes(b"not json\n" + orjson.dumps(_line("00.000")) + b"\n")
    status, _, err = _run(capsys, "view", str(named), str(tmp_path / "gone\x1b[2J.jsonl"))
    assert status == 0
    assert "cannot read" in err
    assert "skipped 1 malformed" in err
    _assert_clean(err)
