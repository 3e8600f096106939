"""The freqtrade runner on the real freqtrade CLI, offline: the exchange's market list comes from a
loopback stand-in, the candles are synthetic, everything else is freqtrade itself.

One successful backtest is run once for the module and looked at by several tests; the failure
cases are separate, cheap runs.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import freqtrade
import pytest

import agent_tracing as at
from agent_tracing.freqtrade import (
    ENV_CORRELATION_ID,
    ENV_PARENT_SPAN_ID,
    FreqtradeError,
    FreqtradeResult,
    FreqtradeRunner,
    run_freqtrade,
)
from agent_tracing.testing import capture_events, normalize_events
from app.util.ft import (
    FtSettings,
    LoopbackExchange,
    build_config,
    generate_ohlcv,
    prepare_user_data,
    sma_cross_strategy,
    write_strategy,
)

PAIRS = ["BTC/USDT", "ETH/USDT"]
TIMERANGE = "20240101-20240105"
CORRELATION_ID = "c0ffee00-0000-4000-8000-000000000001"
# Secrets planted where a user would put them; the probe strategy prints them all back.
CONFIG_KEY = "planted-config-key-8f3a"
CONFIG_SECRET = "planted-config-secret-41c2"
TELEGRAM_TOKEN = "planted-telegram-token-77d1"
JWT_SECRET = "planted-jwt-secret-key-0123456789abcdef"
API_PASSWORD = "planted-api-password-5e6f"
ENV_SECRET = "planted-env-secret-9b0c"
INHERITED_SECRET = "planted-inherited-db-password-2d4e"
CLI_SECRET = "planted-cli-key-6a7b"
PLANTED = (CONFIG_KEY, CONFIG_SECRET, TELEGRAM_TOKEN, JWT_SECRET, API_PASSWORD, ENV_SECRET,
           INHERITED_SECRET, CLI_SECRET)  # fmt: skip

PROBE = (
    sma_cross_strategy("SmaProbe")
    + """
    def bot_start(self, **kwargs) -> None:
        import logging
        import os

        env = os.environ
        logging.getLogger(__name__).info(
            "probe context %s %s", env.get("AGENT_TRACING_CORRELATION_ID"),
            env.get("AGENT_TRACING_PARENT_SPAN_ID"),
        )
        import json

        # freqtrade blanks the exchange credentials of a backtest: read them from the file.
        with open(self.config["config_files"][0]) as raw:
            exchange = json.load(raw)["exchange"]
        values = [exchange["key"], exchange["secret"], env.get("FREQTRADE__EXCHANGE__SECRET"),
                  env.get("GENTRADE_DB_PASSWORD"), self.config["telegram"]["token"],
                  self.config["api_server"]["jwt_secret_key"],
                  self.config["api_server"]["password"]]
        logging.getLogger(__name__).warning("probe values %s", " ".join(map(str, values)))
"""
)
BOOM = sma_cross_strategy("SmaBoom").replace(
    'dataframe["sma_fast"] =', 'raise ValueError("indicator exploded")\n        _ ='
)


@dataclass
class Workspace:
    """A user_data directory with candles, strategies and a config, and the exchange stand-in."""

    root: Path
    config: Path
    exchange: LoopbackExchange

    def args(self, strategy: str, results: Path, *extra: str) -> list[str]:
        return ["backtesting", "--config", str(self.config), "--userdir", str(self.root),
                "--strategy", strategy, "--timerange", TIMERANGE, "--cache", "none",
                "--backtest-directory", str(results), *extra]  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Candles for two pairs, the strategies, a config with planted secrets, the stand-in."""
    root = tmp_path_factory.mktemp("ft") / "user_data"
    user_data = prepare_user_data(root)
    generate_ohlcv(user_data.datadir, PAIRS, days=4)
    for name, code in (("SmaProbe", PROBE), ("SmaBoom", BOOM)):
        write_strategy(root / "strategies", code, name)
    with LoopbackExchange(PAIRS) as exchange, pytest.MonkeyPatch.context() as mp:
        # freqtrade skips its own logging set-up when it sees it runs under pytest.
        mp.delenv("PYTEST_VERSION", raising=False)
        mp.setenv("GENTRADE_DB_PASSWORD", INHERITED_SECRET)
        settings = FtSettings(exchange_key=CONFIG_KEY, exchange_secret=CONFIG_SECRET)
        config = build_config(settings, pairs=PAIRS, timeframe="5m",
                              exchange_api_url=exchange.api_url)  # fmt: skip
        config["telegram"] = {"enabled": False, "token": TELEGRAM_TOKEN, "chat_id": "1"}
        config["api_server"] = {"enabled": False, "listen_ip_address": "127.0.0.1",
                                "listen_port": 8080, "username": "u", "password": API_PASSWORD,
                                "jwt_secret_key": JWT_SECRET}  # fmt: skip
        path = root / "config.json"
        path.write_text(json.dumps(config))
        yield Workspace(root=root, config=path, exchange=exchange)


@dataclass
class Success:
    """The successful probe backtest: its result and every line it logged."""

    result: FreqtradeResult
    lines: list[dict[str, Any]]
    results_dir: Path


@pytest.fixture(scope="module")
def success(workspace: Workspace) -> Success:
    """Run the probe backtest once (real freqtrade), secrets planted in config and environment."""
    results = workspace.root / "backtests" / "probe"
    results.mkdir(parents=True)
    runner = FreqtradeRunner(timeout=120, env={"FREQTRADE__EXCHANGE__SECRET": ENV_SECRET})
    with capture_events() as captured, at.bind(correlation_id=CORRELATION_ID, strategy_id=456,
                                                 backtest_id=789):  # fmt: skip
        with at.span("create backtest", kind="service"):
            result = runner.run(workspace.args("SmaProbe", results))
    return Success(result=result, lines=list(captured.raw), results_dir=results)


def _ft_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == "freqtrade.log"]


def test_backtest_succeeds_with_output_files_and_summary(success: Success) -> None:
    """A real backtest ends ok and its result files and trade summary are found and logged."""
    result = success.result
    assert (result.ok, result.status, result.exit_code, result.errors) == (True, "ok", 0, [])
    files = result.output_files
    assert sorted(files) == ["last_result", "meta", "result"]
    assert str(success.results_dir / ".last_result.json") == files["last_result"]
    assert all(Path(p).parent == success.results_dir and Path(p).exists() for p in files.values())
    summary = result.summary["SmaProbe"]
    assert summary["total_trades"] > 0
    assert summary["wins"] + summary["draws"] + summary["losses"] == summary["total_trades"]
    end = [line for line in success.lines if line["event"] == "freqtrade.command.end"]
    assert len(end) == 1
    assert files == end[0]["data"]["output_files"]
    assert summary == end[0]["data"]["summary"]["SmaProbe"]
    assert "BACKTESTING REPORT" in end[0]["data"]["tables"]


def test_command_and_parameters_are_logged(success: Success) -> None:
    """The start event has the command line and the strategy, timerange, config, paths."""
    (start,) = [line for line in success.lines if line["event"] == "freqtrade.command.start"]
    params = start["data"]["parameters"]
    assert params["subcommand"] == "backtesting"
    assert params["strategy"] == "SmaProbe"
    assert params["timerange"] == TIMERANGE
    assert [str(Path(success.results_dir).parent.parent / "config.json")] == params["config"]
    assert str(success.results_dir) == params["export_directory"]
    assert params["cache"] == "none"
    assert start["data"]["command"].endswith(f"--backtest-directory {success.results_dir}")
    assert freqtrade.__version__ == start["data"]["freqtrade_version"]


def test_lines_are_relayed_at_freqtrades_level_under_our_context(success: Success) -> None:
    """Each freqtrade line is one record at its own level, its logger in data, in our span."""
    lines = _ft_lines(success.lines)
    start = next(line for line in success.lines if line["event"] == "freqtrade.command.start")
    assert len(lines) > 30
    assert {CORRELATION_ID} == {line["correlation_id"] for line in lines}
    assert {(456, 789)} == {(line["strategy_id"], line["backtest_id"]) for line in lines}
    assert {start["span_id"]} == {line["span_id"] for line in lines}
    by_message = {line["message"]: line for line in lines}
    first = by_message[f"freqtrade {freqtrade.__version__}"]
    assert (first["level"], first["data"]["logger"]) == ("INFO", "freqtrade")
    warning = next(line for line in lines if "data ends at" in line["message"])
    assert warning["level"] == "WARNING"
    assert warning["data"]["logger"] == "freqtrade.data.history.datahandlers.idatahandler"
    assert first["logger"] == "agent_tracing.freqtrade.output"


def test_progress_bars_and_table_art_are_not_relayed(success: Success) -> None:
    """No relayed line is a progress bar or a piece of a drawn table; the tables are data."""
    messages = [line["message"] for line in success.lines if line["event"].startswith("freqtrade.")]
    art = re.compile(r"[━┃│┏┗┡]")
    assert [m for m in messages if art.search(m)] == []
    end = next(line for line in success.lines if line["event"] == "freqtrade.command.end")
    report = end["data"]["tables"]["BACKTESTING REPORT"]
    assert report[0][0] == "Pair"
    assert sorted(row[0] for row in report[1:]) == ["BTC/USDT", "ETH/USDT", "TOTAL"]


def test_stdout_text_is_relayed_as_output_lines(success: Success) -> None:
    """Freqtrade's plain stdout text (not its tables) is relayed as INFO output lines."""
    output = [line for line in success.lines if line["event"] == "freqtrade.output"]
    assert [(line["level"], line["message"]) for line in output] == [
        ("INFO", "Result for strategy SmaProbe"),
        ("INFO", "Backtested 2024-01-01 02:30:00 -> 2024-01-04 23:55:00 | Max open trades : 2"),
    ]
    assert {line["data"]["stream"] for line in output} == {"stdout"}


def test_lines_stream_while_freqtrade_runs(success: Success) -> None:
    """The first freqtrade line is logged seconds before the command ends, not at the end."""

    def at_time(line: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))

    first = _ft_lines(success.lines)[0]
    end = next(line for line in success.lines if line["event"] == "freqtrade.command.end")
    assert (at_time(end) - at_time(first)).total_seconds() > 1.0


def test_child_process_gets_the_context_in_its_environment(success: Success) -> None:
    """The strategy inside freqtrade reads our correlation id and the command span's id."""
    probe = next(line for line in _ft_lines(success.lines) if "probe context" in line["message"])
    assert probe["message"] == f"probe context {CORRELATION_ID} {success.result.span_id}"
    start = next(line for line in success.lines if line["event"] == "freqtrade.command.start")
    assert {ENV_CORRELATION_ID, ENV_PARENT_SPAN_ID} <= set(start["data"]["env"])


def test_secrets_from_config_and_environment_never_reach_a_line(success: Success) -> None:
    """Secrets freqtrade printed back (config, passed and inherited environment) are scrubbed."""
    probe = next(line for line in _ft_lines(success.lines) if "probe values" in line["message"])
    # The child really saw them (freqtrade redacts nothing there): the run proves the scrubbing.
    assert "probe values " + " ".join(["[REDACTED]"] * 7) == probe["message"]
    text = json.dumps(success.lines) + json.dumps(success.result.__dict__, default=str)
    assert [secret for secret in PLANTED if secret in text] == []


def _normalise(success: Success) -> list[dict[str, Any]]:
    site = str(Path(freqtrade.__file__).parent)
    replacements = [
        (str(success.results_dir.parent.parent), "<user_data>"),
        (site, "<freqtrade>"),
        (success.result.command[0], "<freqtrade-bin>"),
        (str(success.result.span_id), "<command-span>"),
    ]
    patterns = [
        (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
        (re.compile(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}"), "<result-time>"),
        (re.compile(r"NumExpr defaulting to \d+ threads"), "NumExpr defaulting to <n> threads"),
        (re.compile(r"freqtrade \d{4}\.\d+\S*"), "freqtrade <version>"),
        (re.compile(r"CCXT \d+\.\d+\.\d+"), "CCXT <version>"),
    ]

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for old, new in replacements:
                value = value.replace(old, new)
            for pattern, new in patterns:
                value = pattern.sub(new, value)
            return value
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    # stdout and stderr are two pipes: how their lines interleave is up to the scheduler, and the
    # exchange stand-in logs from its own thread. Only the ordered stream is snapshotted.
    ordered = [
        line
        for line in success.lines
        if line["logger"].startswith("agent_tracing") and line["event"] != "freqtrade.output"
    ]
    events = clean(normalize_events(ordered))
    for event in events:
        if event["event"] == "freqtrade.command.start":
            event["data"]["freqtrade_version"] = "<version>"
    return events


def test_event_stream_snapshot(success: Success, snapshot: Any) -> None:
    """The normalised event stream of the successful backtest is stable."""
    assert _normalise(success) == snapshot


@dataclass
class Failed:
    """A failing command's result and the lines of its span."""

    result: FreqtradeResult
    lines: list[dict[str, Any]]

    def errors(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["level"] in ("ERROR", "CRITICAL")]


SHORT_JWT = "planted-short-jwt"  # too short for freqtrade's schema: it is quoted back


@pytest.fixture(scope="module")
def failures(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Failed]:
    """The failing commands, run at the same time (each its own span; lines kept apart by it)."""
    base = tmp_path_factory.mktemp("failures")
    bad_timerange = workspace.args("SmaProbe", base / "t")
    bad_timerange[bad_timerange.index(TIMERANGE)] = "2024-01-01..2024-01-05"
    config = json.loads(workspace.config.read_text())
    config["api_server"]["jwt_secret_key"] = SHORT_JWT
    bad_config = base / "config.json"
    bad_config.write_text(json.dumps(config))
    config_error = workspace.args("SmaProbe", base / "c")
    config_error[config_error.index(str(workspace.config))] = str(bad_config)
    commands = {
        "missing_strategy": workspace.args("NoSuchStrategy", base / "m"),
        "bad_timerange": bad_timerange,
        "runtime_error": workspace.args("SmaBoom", base / "r"),
        "config_error": config_error,
    }
    with capture_events() as captured, ThreadPoolExecutor(len(commands)) as pool:
        futures = {
            name: pool.submit(contextvars.copy_context().run, run_freqtrade, args, timeout=120)
            for name, args in commands.items()
        }
        results = {name: future.result() for name, future in futures.items()}
    return {
        name: Failed(result, [line for line in captured.raw if line["span_id"] == result.span_id])
        for name, result in results.items()
    }


def test_concurrent_commands_keep_their_lines_apart(failures: dict[str, Failed]) -> None:
    """Commands run at once are separate spans, each with one start, its lines, one end."""
    spans = {failed.result.span_id for failed in failures.values()}
    assert len(spans) == len(failures)
    for failed in failures.values():
        events = [line["event"] for line in failed.lines]
        assert (events[0], events[-1]) == ("freqtrade.command.start", "freqtrade.command.end")
        assert events.count("freqtrade.command.end") == 1
        assert failed.result.lines == events.count("freqtrade.log")


def test_missing_strategy_fails_with_exit_code_2(failures: dict[str, Failed]) -> None:
    """An unknown strategy class: exit 2, its ERROR line in the errors, end event at ERROR."""
    failed = failures["missing_strategy"]
    result = failed.result
    assert (result.status, result.exit_code) == ("error", 2)
    assert result.errors == [
        "Impossible to load Strategy 'NoSuchStrategy'. "
        "This class does not exist or contains Python code errors."
    ]
    end = failed.lines[-1]
    assert (end["level"], end["data"]["status"]) == ("ERROR", "error")
    assert end["message"] == "freqtrade backtesting failed (exit code 2, 1 error line)"
    with pytest.raises(FreqtradeError, match="Impossible to load Strategy"):
        result.check()


def test_bad_timerange_exits_0_but_is_a_failure(failures: dict[str, Failed]) -> None:
    """A bad --timerange makes freqtrade exit 0 after an ERROR line: reported as a failure."""
    result = failures["bad_timerange"].result
    assert (result.ok, result.status, result.exit_code) == (False, "error", 0)
    assert len(result.errors) == 1
    assert result.errors[0].startswith('Configuration error: Incorrect syntax for timerange "2024')
    assert result.output_files == {}


def test_strategy_raising_at_runtime_fails_with_one_traceback_record(
    failures: dict[str, Failed],
) -> None:
    """A strategy raising mid-backtest: exit 1, and its multi-line traceback is one record."""
    failed = failures["runtime_error"]
    assert (failed.result.status, failed.result.exit_code) == ("error", 1)
    (fatal, end) = failed.errors()
    assert (fatal["message"], fatal["data"]["logger"]) == ("Fatal exception!", "freqtrade")
    exception = fatal["exception"]
    assert (exception["type"], exception["message"]) == ("ValueError", "indicator exploded")
    assert exception["traceback"].startswith("Traceback (most recent call last):")
    assert 'raise ValueError("indicator exploded")' in exception["traceback"]
    assert failed.result.errors == ["Fatal exception! (ValueError: indicator exploded)"]
    assert [line for line in failed.lines if line["message"].lstrip().startswith("File ")] == []
    assert end["event"] == "freqtrade.command.end"


def test_config_error_exits_0_but_fails_and_the_echoed_secret_is_scrubbed(
    failures: dict[str, Failed],
) -> None:
    """Invalid config: freqtrade exits 0 quoting the bad (secret) value; a failure, value hidden."""
    failed = failures["config_error"]
    result = failed.result
    assert (result.ok, result.status, result.exit_code) == (False, "error", 0)
    assert [e.split("\n")[0] for e in result.errors] == [
        "Invalid configuration. Reason: '[REDACTED]' is too short",
        "Configuration error: '[REDACTED]' is too short",
    ]
    (critical,) = [line for line in failed.lines if line["level"] == "CRITICAL"]
    assert "Failed validating 'minLength'" in critical["message"]
    assert SHORT_JWT not in json.dumps(failed.lines) + json.dumps(result.__dict__)


def test_timeout_kills_the_command_and_says_so(workspace: Workspace, tmp_path: Path) -> None:
    """A command past its timeout is killed; the result and the end event say it timed out."""
    with capture_events() as captured:
        result = run_freqtrade(workspace.args("SmaProbe", tmp_path), timeout=1.0)
    assert (result.ok, result.status, result.timed_out) == (False, "timeout", True)
    assert result.exit_code is not None
    assert result.exit_code < 0
    assert result.duration_ms < 10_000
    end = captured.by_event("freqtrade.command.end")[0]
    assert end["message"] == "freqtrade backtesting timed out after 1.0 s and was killed"
    assert (
        end["level"],
        end["data"]["status"],
        end["data"]["timed_out"],
    ) == ("ERROR", "timeout", True)


def test_unknown_flag_exits_0_but_fails_and_its_secret_is_scrubbed(
    workspace: Workspace, tmp_path: Path
) -> None:
    """An unknown flag (echoed back by freqtrade with its value) is a failure, the value hidden."""
    with capture_events() as captured:
        result = run_freqtrade(
            [*workspace.args("SmaProbe", tmp_path), "--api-key", CLI_SECRET], timeout=120
        )
    assert (result.ok, result.status, result.exit_code) == (False, "error", 0)
    assert result.errors == ["freqtrade: error: unrecognized arguments: --api-key [REDACTED]"]
    assert result.command[-2:] == ["--api-key", "[REDACTED]"]
    text = json.dumps(captured.raw) + json.dumps(result.__dict__, default=str)
    assert CLI_SECRET not in text
    assert "[REDACTED]" in captured.by_event("freqtrade.command.start")[0]["data"]["command"]


def test_a_missing_executable_is_a_failed_result(tmp_path: Path) -> None:
    """A command that cannot start is a failed result and an ERROR end event, not an exception."""
    with capture_events() as captured:
        result = run_freqtrade(["backtesting"], executable=str(tmp_path / "no-freqtrade"))
    assert (result.ok, result.status, result.exit_code) == (False, "error", None)
    assert result.errors[0].startswith("could not start freqtrade:")
    assert captured.by_event("freqtrade.command.end")[0]["level"] == "ERROR"
