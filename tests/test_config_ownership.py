"""configure_logging owns logging: one view per terminal by default, others' root handlers
taken off (and put back by shutdown_logging), test-harness capture left alone."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import agent_tracing as at
from agent_tracing.testing import capture_events
from tests.conftest import json_lines


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class _BrokenTerminal(io.StringIO):
    """A stream whose isatty() fails, as a closed or odd stream's may."""

    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


def _emit(message: str = "one event") -> None:
    at.get_logger("app.own").warning(message)
    at.flush_logging()


def _clear_view_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AGENT_TRACING_CONSOLE",
        "AGENT_TRACING_CONSOLE_STREAM",
        "AGENT_TRACING_JSON",
        "AGENT_TRACING_JSON_OUTPUT",
        "AGENT_TRACING_KEEP_HANDLERS",
    ):
        monkeypatch.delenv(name, raising=False)


# pytest puts its own capture streams back into sys.stdout/sys.stderr when the test body starts,
# so the streams are replaced from inside each test, not by a fixture.
def _on_terminal(monkeypatch: pytest.MonkeyPatch) -> _Terminal:
    """stdout and stderr are one terminal, as in an interactive shell."""
    _clear_view_env(monkeypatch)
    screen = _Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setattr(sys, "stderr", screen)
    return screen


def _on_pipes(monkeypatch: pytest.MonkeyPatch) -> tuple[io.StringIO, io.StringIO]:
    """stdout and stderr are pipes (a container, CI, ``| jq``): neither is a terminal."""
    _clear_view_env(monkeypatch)
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    return out, err


def test_not_a_terminal_by_default_json_on_stdout_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a terminal the default is the JSON view on stdout and no console view."""
    pipes = _on_pipes(monkeypatch)
    out, err = pipes
    settings = at.configure_logging()
    _emit()
    assert (settings.console, settings.json) == (False, True)
    assert [json.loads(line)["message"] for line in out.getvalue().splitlines()] == ["one event"]
    assert err.getvalue() == ""


def test_a_terminal_by_default_console_view_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the default is the console view only: the event shows once, not as JSON."""
    terminal = _on_terminal(monkeypatch)
    settings = at.configure_logging()
    _emit()
    assert (settings.console, settings.json) == (True, False)
    assert terminal.getvalue().count("one event") == 1
    assert "{" not in terminal.getvalue()


def test_a_file_path_gives_the_console_view_and_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """json_output=<path>: console view on the terminal and JSON lines in the file, both once."""
    terminal = _on_terminal(monkeypatch)
    out = tmp_path / "app.jsonl"
    settings = at.configure_logging(json_output=str(out))
    _emit()
    assert (settings.console, settings.json) == (True, True)
    assert terminal.getvalue().count("one event") == 1
    assert [line["message"] for line in json_lines(out)] == ["one event"]


def test_a_file_path_without_a_terminal_still_gives_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A path is both views whatever stderr is: console lines on stderr, JSON in the file."""
    pipes = _on_pipes(monkeypatch)
    out_stream, err = pipes
    out = tmp_path / "app.jsonl"
    at.configure_logging(json_output=str(out))
    _emit()
    assert err.getvalue().count("one event") == 1
    assert out_stream.getvalue() == ""
    assert [line["message"] for line in json_lines(out)] == ["one event"]


def test_the_json_output_path_from_the_environment_counts_as_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AGENT_TRACING_JSON_OUTPUT=<path> is the same as the argument: console view and file."""
    _on_pipes(monkeypatch)
    out = tmp_path / "env.jsonl"
    monkeypatch.setenv("AGENT_TRACING_JSON_OUTPUT", str(out))
    settings = at.configure_logging()
    assert (True, True, str(out)) == (settings.console, settings.json, settings.json_output)


def test_json_output_naming_a_stream_asks_for_json_there(monkeypatch: pytest.MonkeyPatch) -> None:
    """json_output='stdout' given on a terminal: JSON there, and no console view beside it."""
    terminal = _on_terminal(monkeypatch)
    settings = at.configure_logging(json_output="stdout")
    _emit()
    assert (settings.console, settings.json) == (False, True)
    assert [json.loads(line)["message"] for line in terminal.getvalue().splitlines()] == [
        "one event"
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"console": True}, (True, False)),
        ({"console": False}, (False, True)),
        ({"json": True}, (False, True)),
        ({"json": False}, (True, False)),
        ({"console": True, "json": True}, (True, True)),
        ({"console": False, "json": False}, (False, False)),
    ],
)
def test_explicit_views_win_and_one_alone_turns_the_other_off(
    monkeypatch: pytest.MonkeyPatch,
    arguments: dict[str, bool],
    expected: tuple[bool, bool],
) -> None:
    """console=/json= decide; given alone on a stream, the other view takes the opposite."""
    _on_pipes(monkeypatch)
    settings = at.configure_logging(**arguments)  # type: ignore[arg-type]
    assert expected == (settings.console, settings.json)


def test_both_views_asked_for_on_one_terminal_are_both_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """console=True, json=True is what the caller asked for: both, on the same terminal."""
    terminal = _on_terminal(monkeypatch)
    at.configure_logging(console=True, json=True, color=False)
    _emit()
    assert terminal.getvalue().count("one event") == 2


def test_the_environment_decides_like_the_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """AGENT_TRACING_CONSOLE=1 without a terminal: console view only; the argument still wins."""
    _on_pipes(monkeypatch)
    monkeypatch.setenv("AGENT_TRACING_CONSOLE", "1")
    by_env = at.configure_logging()
    by_argument = at.configure_logging(console=False)
    assert [
        (by_env.console, by_env.json),
        (by_argument.console, by_argument.json),
    ] == [(True, False), (False, True)]


def test_a_stream_whose_isatty_fails_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stderr whose isatty() raises is taken as not a terminal; nothing raises."""
    _on_pipes(monkeypatch)
    monkeypatch.setattr(sys, "stderr", _BrokenTerminal())
    settings = at.configure_logging()
    assert (settings.console, settings.json) == (False, True)


def _run_on_a_terminal(script: str, cwd: Path) -> str:
    """Run ``script`` with stdout and stderr on one pseudo-terminal; return what it showed."""
    main, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_TRACING_", "NO_COLOR"))}
    env["NO_COLOR"] = "1"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        cwd=cwd,
        env=env,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode()


def test_after_basic_config_an_event_shows_once_on_the_terminal(tmp_path: Path) -> None:
    """logging.basicConfig() first, then configure_logging(): one line per event on a terminal."""
    shown = _run_on_a_terminal(
        """
        import logging, agent_tracing as at
        logging.basicConfig()
        at.configure_logging()
        logging.getLogger("app.own").warning("the event")
        """,
        tmp_path,
    )
    assert shown.count("the event") == 1, shown


def test_after_dict_config_an_event_shows_once_on_the_terminal(tmp_path: Path) -> None:
    """A dictConfig with its own console handler, then configure_logging(): one line per event."""
    shown = _run_on_a_terminal(
        """
        import logging.config, agent_tracing as at
        logging.config.dictConfig({
            "version": 1,
            "formatters": {"console": {"()": "agent_tracing.ConsoleFormatter"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "console"}},
            "root": {"handlers": ["console"], "level": "INFO"},
        })
        at.configure_logging()
        logging.getLogger("app.own").warning("the event")
        """,
        tmp_path,
    )
    assert shown.count("the event") == 1, shown


def test_a_path_on_a_terminal_shows_once_and_writes_the_file(tmp_path: Path) -> None:
    """On a real terminal with json_output=<path>: the event shows once, and is in the file."""
    shown = _run_on_a_terminal(
        """
        import logging, agent_tracing as at
        logging.basicConfig()
        at.configure_logging(json_output="w.jsonl")
        logging.getLogger("app.own").warning("the event")
        """,
        tmp_path,
    )
    assert shown.count("the event") == 1, shown
    assert [line["message"] for line in json_lines(tmp_path / "w.jsonl")] == ["the event"]


def test_others_root_handlers_are_taken_off_and_put_back_by_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A foreign root handler sees nothing while configured; shutdown_logging puts it back."""
    _on_pipes(monkeypatch)
    seen = io.StringIO()
    foreign = logging.StreamHandler(seen)
    root = logging.getLogger()
    root.addHandler(foreign)
    try:
        at.configure_logging()
        _emit("while configured")
        assert foreign not in root.handlers
        at.shutdown_logging()
        assert root.handlers.count(foreign) == 1
        root.warning("after shutdown")
        assert seen.getvalue() == "after shutdown\n"
    finally:
        root.removeHandler(foreign)


def test_keep_handlers_keeps_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """keep_handlers=True leaves others' root handlers in place, writing as before."""
    _on_pipes(monkeypatch)
    seen = io.StringIO()
    foreign = logging.StreamHandler(seen)
    root = logging.getLogger()
    root.addHandler(foreign)
    try:
        at.configure_logging(keep_handlers=True)
        _emit("kept")
        assert foreign in root.handlers
        assert seen.getvalue() == "kept\n"
        assert at.config.configured_arguments() == {"keep_handlers": True}
    finally:
        root.removeHandler(foreign)


def test_repeated_calls_put_back_a_handler_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler taken off, then three more calls: shutdown_logging puts it back once."""
    _on_pipes(monkeypatch)
    root = logging.getLogger()
    foreign = logging.NullHandler()
    before = list(root.handlers)
    root.addHandler(foreign)
    try:
        for _ in range(4):
            at.configure_logging()
        assert foreign not in root.handlers
        at.shutdown_logging()
        assert root.handlers == [*before, foreign]
    finally:
        root.removeHandler(foreign)


def test_a_handler_added_on_top_of_the_setup_stays_on_later_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Added after configure_logging, on purpose: a later call (a Celery worker's) leaves it."""
    _on_pipes(monkeypatch)
    root = logging.getLogger()
    seen = io.StringIO()
    added = logging.StreamHandler(seen)
    try:
        at.configure_logging()
        root.addHandler(added)
        at.configure_logging(level="DEBUG")
        _emit("still seen")
        assert seen.getvalue() == "still seen\n"
        at.shutdown_logging()
        assert root.handlers.count(added) == 1
    finally:
        root.removeHandler(added)


def test_a_later_call_takes_off_what_keep_handlers_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """keep_handlers=True, then a call without it: the kept handler is taken off, then put back."""
    _on_pipes(monkeypatch)
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        at.configure_logging(keep_handlers=True)
        at.configure_logging()
        assert foreign not in root.handlers
        at.shutdown_logging()
        assert root.handlers.count(foreign) == 1
    finally:
        root.removeHandler(foreign)


def test_after_ours_were_displaced_the_next_call_takes_over_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dictConfig replaced our handlers: the next call takes its handler off, and shutdown puts
    back that one, not the handler the dictConfig itself had replaced."""
    _on_pipes(monkeypatch)
    root = logging.getLogger()
    first, second = logging.NullHandler(), logging.NullHandler()
    harness = [h for h in root.handlers if type(h).__module__ == "_pytest.logging"]
    root.addHandler(first)
    try:
        at.configure_logging()
        root.handlers = [*harness, second]  # what a dictConfig of the root does
        at.configure_logging()
        assert second not in root.handlers
        at.shutdown_logging()
        assert (root.handlers.count(first), root.handlers.count(second)) == (0, 1)
    finally:
        root.removeHandler(first)
        root.removeHandler(second)


def test_keep_handlers_on_a_later_call_brings_back_what_an_earlier_call_took_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each call's result does not depend on the one before: keep_handlers=True restores."""
    _on_pipes(monkeypatch)
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        at.configure_logging()
        at.configure_logging(keep_handlers=True)
        assert root.handlers.count(foreign) == 1
        at.shutdown_logging()
        assert root.handlers.count(foreign) == 1
    finally:
        root.removeHandler(foreign)


def test_caplog_still_captures_after_configure_logging(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest's capture handlers are not output: they stay, so caplog sees the event."""
    _on_pipes(monkeypatch)
    pytest_handlers = [
        h for h in logging.getLogger().handlers if type(h).__module__ == "_pytest.logging"
    ]
    at.configure_logging()
    _emit("captured")
    assert caplog.messages == ["captured"]
    assert all(h in logging.getLogger().handlers for h in pytest_handlers)


def test_capture_events_still_captures_after_configure_logging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The library's own capture handler stays on the root when configure_logging runs inside."""
    _on_pipes(monkeypatch)
    with capture_events() as captured:
        at.configure_logging()
        _emit("captured")
    assert captured.messages() == ["captured"]


def test_keep_handlers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """AGENT_TRACING_KEEP_HANDLERS=1 keeps others' handlers; garbage is an error naming it."""
    _on_pipes(monkeypatch)
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        monkeypatch.setenv("AGENT_TRACING_KEEP_HANDLERS", "1")
        assert at.configure_logging().keep_handlers is True
        assert foreign in root.handlers
        monkeypatch.setenv("AGENT_TRACING_KEEP_HANDLERS", "maybe")
        with pytest.raises(ValueError, match="AGENT_TRACING_KEEP_HANDLERS"):
            at.configure_logging()
        assert foreign in root.handlers  # the failed call changed nothing
    finally:
        root.removeHandler(foreign)


def test_naming_the_console_stream_asks_for_the_console_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """console_stream=<a stream that is no terminal> alone: the console view there, no JSON."""
    out, _ = _on_pipes(monkeypatch)
    stream = io.StringIO()
    settings = at.configure_logging(console_stream=stream, color=False)
    _emit()
    assert (settings.console, settings.json) == (True, False)
    assert stream.getvalue().count("one event") == 1
    assert out.getvalue() == ""
