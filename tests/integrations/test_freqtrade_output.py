"""The freqtrade runner's parts that need no freqtrade run: reading its output, finding secrets,
building commands and environments, finding result files."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import agent_tracing as at
from agent_tracing.freqtrade import (
    ENV_CORRELATION_ID,
    ENV_PARENT_SPAN_ID,
    DockerOptions,
    FreqtradeRunner,
    SecretScrubber,
    collect_secrets,
    command_parameters,
    context_from_environ,
    find_output_files,
    parse_tables,
)
from agent_tracing.freqtrade._command import child_environment
from agent_tracing.freqtrade._output import FtRecord, StderrAssembler, StdoutReader
from agent_tracing.testing import capture_events

LOG = "2026-11-27 12:57:28,219 - {name} - {level} - {message}"


def _assemble(lines: list[str]) -> list[FtRecord]:
    records: list[FtRecord] = []
    assembler = StderrAssembler(records.append)
    for line in lines:
        assembler.feed(line)
    assembler.flush()
    return records


def test_log_lines_become_records_with_level_and_logger() -> None:
    """Each freqtrade log line is one record with its level and logger name."""
    records = _assemble([
        LOG.format(name="freqtrade", level="INFO", message="freqtrade 2026.9"),
        LOG.format(name="freqtrade.optimize.backtesting", level="WARNING", message="slow - data"),
    ])  # fmt: skip
    assert [(r.level, r.logger, r.message) for r in records] == [
        (logging.INFO, "freqtrade", "freqtrade 2026.9"),
        (logging.WARNING, "freqtrade.optimize.backtesting", "slow - data"),
    ]


def test_continuation_lines_stay_in_their_record() -> None:
    """A multi-line message (a config error and its hint) is one record."""
    (record,) = _assemble([
        LOG.format(name="freqtrade", level="ERROR", message="Configuration error: bad"),
        "Please make sure to review the documentation.",
    ])  # fmt: skip
    assert (
        record.text() == "Configuration error: bad\nPlease make sure to review the documentation."
    )
    assert record.exception() is None


def test_a_traceback_is_one_record_with_its_exception() -> None:
    """A logged traceback stays with its record and is parsed into type, message, traceback."""
    trace = [
        "Traceback (most recent call last):",
        '  File "/x/strategy.py", line 10, in populate_indicators',
        '    raise ValueError("boom: bad")',
        "ValueError: boom: bad",
    ]
    (record,) = _assemble([LOG.format(name="freqtrade", level="ERROR", message="Fatal!"), *trace])
    assert record.text() == "Fatal!"
    assert record.exception() == {
        "type": "ValueError",
        "message": "boom: bad",
        "traceback": "\n".join(trace),
    }


def test_progress_bars_and_blank_lines_are_dropped() -> None:
    """Progress bars on stderr never become records or continuation lines."""
    records = _assemble([
        "",
        LOG.format(name="freqtrade", level="INFO", message="Running"),
        "backtest ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 4/4 100% • 0:00:00 • 0:00:00",
        "analyze ━━━━━━━━━━━━━━━━━━━━━╸            2/4  50% • 0:00:00 • 0:00:01",
    ])  # fmt: skip
    assert [(r.message, r.lines) for r in records] == [("Running", [])]


def test_text_outside_logging_is_relayed_with_a_guessed_level() -> None:
    """Argparse's usage and error lines (no log format) are records; the error one at ERROR."""
    records = _assemble([
        "usage: freqtrade [-h] [-V] {trade,backtesting} ...",
        "freqtrade: error: unrecognized arguments: --nope",
    ])  # fmt: skip
    assert [(r.level, r.logger) for r in records] == [
        (logging.WARNING, None),
        (logging.ERROR, None),
    ]


def test_a_bare_traceback_is_one_record() -> None:
    """A crash before freqtrade's logging is set up is one ERROR record with the exception."""
    (record,) = _assemble([
        "Traceback (most recent call last):",
        '  File "<string>", line 1, in <module>',
        "ModuleNotFoundError: No module named 'talib'",
    ])  # fmt: skip
    assert (record.level, record.text()) == (logging.ERROR, "Uncaught exception")
    exception = record.exception()
    assert exception is not None
    assert (exception["type"], exception["message"]) == (
        "ModuleNotFoundError",
        "No module named 'talib'",
    )


TABLE = """\
Result for strategy SmaCross
                 BACKTESTING REPORT
┏━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┓
┃     Pair ┃ Trades ┃ Avg Profit % ┃
┡━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━┩
│ BTC/USDT │     30 │        -0.21 │
│          │        │              │
│    TOTAL │     57 │        -0.28 │
└──────────┴────────┴──────────────┘
Backtested 2024-01-01 02:30:00 -> 2024-01-04 23:55:00 | Max open trades : 2"""


def test_stdout_text_is_relayed_but_titles_and_table_art_are_not() -> None:
    """Stdout keeps every line for the tables; only plain text lines are relayed."""
    relayed: list[str] = []
    reader = StdoutReader(relayed.append)
    for line in TABLE.splitlines():
        reader.feed(line)
    reader.flush()
    assert relayed == [
        "Result for strategy SmaCross",
        "Backtested 2024-01-01 02:30:00 -> 2024-01-04 23:55:00 | Max open trades : 2",
    ]
    assert len(reader.lines) == len(TABLE.splitlines())


def test_tables_are_parsed_into_rows_by_title() -> None:
    """A drawn table becomes its header and rows under its title, spacer rows dropped."""
    assert parse_tables(TABLE.splitlines()) == {
        "BACKTESTING REPORT": [
            ["Pair", "Trades", "Avg Profit %"],
            ["BTC/USDT", "30", "-0.21"],
            ["TOTAL", "57", "-0.28"],
        ]
    }


def test_command_parameters_are_read_from_every_flag_form() -> None:
    """Short, long, ``=`` and multi-value flags all give the parameters worth logging."""
    args = ["backtesting", "-c", "a.json", "--config=b.json", "-s", "Sma", "--timerange=2024-",
            "-i", "5m", "-p", "BTC/USDT", "ETH/USDT", "--userdir", "ud", "--cache", "none",
            "--backtest-directory", "out"]  # fmt: skip
    assert command_parameters(args) == {
        "subcommand": "backtesting",
        "config": ["a.json", "b.json"],
        "strategy": "Sma",
        "timerange": "2024-",
        "timeframe": "5m",
        "pairs": ["BTC/USDT", "ETH/USDT"],
        "userdir": "ud",
        "cache": "none",
        "export_directory": "out",
    }


def test_config_secrets_are_found_by_freqtrade_key(tmp_path: Path) -> None:
    """Exchange credentials, bot tokens, URL passwords and ccxt credentials are secrets."""
    config = tmp_path / "config.json"
    config.write_text("""{
        // freqtrade accepts comments and trailing commas
        "exchange": {"name": "binance", "key": "ex-key-1", "secret": "ex-secret-1",
                     "ccxt_config": {"apiKey": "ccxt-key-1", "urls": {"api": "http://x"}},},
        "telegram": {"token": "tg-token-1", "chat_id": 12345},
        "api_server": {"jwt_secret_key": "jwt-secret-1", "ws_token": ["ws-1x"], "username": "u"},
        "webhook": {"url": "https://hooks.example/abc-1"},
        "db_url": "postgresql://bot:db-pass-1@db/trades",
        "stake_currency": "USDT",
    }""")
    found = collect_secrets(config_paths=[config])
    expected = {"ex-key-1", "ex-secret-1", "ccxt-key-1", "tg-token-1", "12345", "jwt-secret-1",
                "ws-1x", "https://hooks.example/abc-1", "db-pass-1"}  # fmt: skip
    assert found == expected


def test_a_broken_config_still_gives_its_secrets(tmp_path: Path) -> None:
    """A config that is not valid JSON is scanned for secret fields all the same."""
    config = tmp_path / "config.json"
    config.write_text('{"exchange": {"secret": "half-written-secret", "key": ')
    assert collect_secrets(config_paths=[config]) == {"half-written-secret"}


def test_environment_and_argument_secrets() -> None:
    """Secret-named variables (freqtrade's ``FREQTRADE__X__KEY`` too) and flags are secrets."""
    env = {
        "FREQTRADE__EXCHANGE__KEY": "env-key-1",
        "DB_PASSWORD": "env-pass-1",
        "DATABASE_URL": "postgresql://u:url-pass-1@h/d",
        "HOME": "/root",
        "TOKEN": "abc",
    }
    args = ["backtesting", "--api-key", "arg-key-1", "--password=arg-pass-1", "--timerange", "x"]
    assert collect_secrets(args=args, env=env) == {
        "env-key-1", "env-pass-1", "url-pass-1", "arg-key-1", "arg-pass-1",
    }  # fmt: skip


def test_scrubber_hides_values_and_flag_arguments() -> None:
    """Known values vanish from text; a secret flag's argument is hidden on the command line."""
    scrub = SecretScrubber({"s3cr3t-value"})
    assert scrub("it was s3cr3t-value, and password=hunter22") == (
        "it was [REDACTED], and password=[REDACTED]"
    )
    assert scrub.args(["ft", "--secret", "plain", "--password=x1", "--x", "s3cr3t-value"]) == [
        "ft", "--secret", "[REDACTED]", "--password=[REDACTED]", "--x", "[REDACTED]",
    ]  # fmt: skip


def test_docker_form_passes_environment_by_name_only() -> None:
    """``docker run`` gets ``-e NAME`` (never a value) and maps container paths back to host."""
    docker = DockerOptions(volumes={"/srv/ud": "/freqtrade/user_data"})
    argv = docker.argv(["backtesting", "-c", "user_data/c.json"], ["FREQTRADE__EXCHANGE__SECRET"])
    assert argv == [
        "docker", "run", "--rm", "-i", "--network", "host", "-v", "/srv/ud:/freqtrade/user_data",
        "-e", "FREQTRADE__EXCHANGE__SECRET", "freqtradeorg/freqtrade:stable",
        "backtesting", "-c", "user_data/c.json",
    ]  # fmt: skip
    assert docker.to_host("user_data/c.json") == Path("/srv/ud/c.json")
    assert docker.to_host("/freqtrade/user_data/bt/x") == Path("/srv/ud/bt/x")
    assert docker.to_host("/elsewhere/x") == Path("/elsewhere/x")


def test_the_context_travels_to_the_child_and_back() -> None:
    """The child's environment carries the context; ``context_from_environ`` reads it back."""
    with at.bind(correlation_id="cid-7", user_id="user_1", backtest_id=9):
        env, names = child_environment({"EXTRA": "1"}, "00aa11bb22cc33dd", inherit=False)
    assert env[ENV_CORRELATION_ID] == "cid-7"
    assert env[ENV_PARENT_SPAN_ID] == "00aa11bb22cc33dd"
    assert "EXTRA" in names
    assert context_from_environ(env) == {
        "correlation_id": "cid-7",
        "user_id": "user_1",
        "backtest_id": "9",
        "span_id": "00aa11bb22cc33dd",
    }


def test_results_of_an_earlier_run_are_not_reported(tmp_path: Path) -> None:
    """Result files older than the run are ignored; fresh ones are found by the pointer file."""
    (tmp_path / "backtest-result-1.zip").write_bytes(b"zip")
    (tmp_path / "backtest-result-1.meta.json").write_text("{}")
    pointer = tmp_path / ".last_result.json"
    pointer.write_text(json.dumps({"latest_backtest": "backtest-result-1.zip"}))
    old = time.time() - 3600
    os.utime(pointer, (old, old))
    assert find_output_files(tmp_path, since=time.time()) == {}
    pointer.touch()
    assert find_output_files(tmp_path, since=time.time() - 1) == {
        "last_result": str(pointer),
        "result": str(tmp_path / "backtest-result-1.zip"),
        "meta": str(tmp_path / "backtest-result-1.meta.json"),
    }


def test_a_record_is_relayed_while_the_process_is_quiet() -> None:
    """The last line is relayed after a short quiet moment, not when the process exits."""
    script = (
        "import sys, time\n"
        "sys.stderr.write('2026-11-27 12:00:00,000 - freqtrade - INFO - working\\n')\n"
        "sys.stderr.flush()\n"
        "time.sleep(1.5)\n"
    )
    runner = FreqtradeRunner(executable=[sys.executable, "-c", script], timeout=30)
    with capture_events() as captured:
        result = runner.run(["backtesting"])
    assert result.ok
    (line,) = captured.by_event("freqtrade.log")
    (end,) = captured.by_event("freqtrade.command.end")

    def at_time(item: dict[str, str]) -> datetime:
        return datetime.fromisoformat(item["timestamp"].replace("Z", "+00:00"))

    assert line["message"] == "working"
    assert (at_time(end) - at_time(line)).total_seconds() > 1.0


def test_parameters_missing_from_the_command_line_come_from_the_config(tmp_path: Path) -> None:
    """Pairs, timeframe, exchange and stake currency are read from the config files."""
    first = tmp_path / "a.json"
    first.write_text(
        '{"timeframe": "1h", "exchange": {"name": "binance", "pair_whitelist": ["A/B"]}}'
    )
    second = tmp_path / "b.json"
    second.write_text('{"stake_currency": "USDT", "exchange": {"pair_whitelist": ["C/D"]}}')
    script = "pass"
    runner = FreqtradeRunner(executable=[sys.executable, "-c", script])
    with capture_events() as captured:
        runner.run(["backtesting", "-c", str(first), "-c", str(second), "--timeframe", "5m"])
    params = captured.by_event("freqtrade.command.start")[0]["data"]["parameters"]
    assert (params["timeframe"], params["pairs"], params["exchange"], params["stake_currency"]) == (
        "5m", ["C/D"], "binance", "USDT",
    )  # fmt: skip


def test_the_integration_imports_no_other_integration() -> None:
    """``agent_tracing.freqtrade`` depends on the core and freqtrade only."""
    import ast

    package = Path(__file__).resolve().parents[2] / "agent_tracing" / "freqtrade"
    others = ("fastapi", "celery", "langchain", "sqlalchemy")
    imported: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    assert [m for m in imported if m.split(".")[-1] in others or m.split(".")[0] in others] == []
    assert "freqtrade" in imported


def _closing_child(sleep: float) -> list[str]:
    # Closes both pipes first, then lives on: the end of output is not the end of the process.
    return [sys.executable, "-c", f"import os, time; os.close(1); os.close(2); time.sleep({sleep})"]


def test_a_process_that_closed_its_pipes_is_waited_for_not_killed() -> None:
    """Closed pipes do not end the command: its real exit code is kept."""
    result = FreqtradeRunner(executable=_closing_child(0.5), timeout=30).run(["backtesting"])
    assert (result.ok, result.exit_code, result.timed_out) == (True, 0, False)


def test_a_silent_process_past_its_deadline_is_killed() -> None:
    """A command that closed its pipes but outlives its timeout is killed and reported so."""
    start = time.monotonic()
    result = FreqtradeRunner(executable=_closing_child(60), timeout=1.0).run(["backtesting"])
    assert (result.status, result.timed_out) == ("timeout", True)
    assert result.exit_code is not None
    assert result.exit_code < 0
    assert time.monotonic() - start < 10


def test_an_interrupted_command_is_killed_and_its_span_ended() -> None:
    """Ctrl-C while freqtrade runs: the process is killed, the span ends, the context is clean."""

    class Interrupt(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "working":
                raise KeyboardInterrupt

    script = (
        "import sys, time\n"
        "sys.stderr.write('2026-11-27 12:00:00,000 - freqtrade - INFO - working\\n')\n"
        "sys.stderr.flush()\n"
        "time.sleep(60)\n"
    )
    handler = Interrupt()
    output = logging.getLogger("agent_tracing.freqtrade.output")
    output.addHandler(handler)
    start = time.monotonic()
    interrupted = False
    try:
        with capture_events() as captured:
            runner = FreqtradeRunner(executable=[sys.executable, "-c", script], kill_grace=1.0)
            try:
                runner.run(["backtesting"])
            except KeyboardInterrupt:
                interrupted = True
    finally:
        output.removeHandler(handler)
    assert interrupted
    assert time.monotonic() - start < 10
    (end,) = captured.by_event("freqtrade.command.end")
    assert (end["level"], end["data"]["status"]) == ("ERROR", "error")
    assert end["exception"]["type"] == "KeyboardInterrupt"
    assert at.current_context() == {}
