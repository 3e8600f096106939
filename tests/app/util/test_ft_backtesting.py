"""The app's backtest flow on the real freqtrade CLI, offline (exchange stand-in, synthetic
candles): one successful backtest for the module, and a cheap failing one."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import agent_tracing as at
from agent_tracing.testing import capture_events
from app.util.ft import (
    BacktestRun,
    FtSettings,
    generate_ohlcv,
    prepare_user_data,
    run_backtest,
    sma_cross_strategy,
)

PAIRS = ["BTC/USDT", "ETH/USDT"]
KEY = "planted-app-exchange-key-3c1d"
SECRET = "planted-app-exchange-secret-8e2f"


@dataclass
class Done:
    """A finished backtest and every line logged while it ran."""

    run: BacktestRun
    lines: list[dict[str, Any]]
    settings: FtSettings


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FtSettings]:
    """Offline settings with planted credentials, over a user_data directory with candles."""
    root = tmp_path_factory.mktemp("app-ft") / "user_data"
    generate_ohlcv(prepare_user_data(root).datadir, PAIRS, days=4)
    with pytest.MonkeyPatch.context() as mp:
        # freqtrade skips its own logging set-up when it sees it runs under pytest.
        mp.delenv("PYTEST_VERSION", raising=False)
        yield FtSettings(exchange_key=KEY, exchange_secret=SECRET, user_data_dir=root,
                         offline=True, timeout_s=120)  # fmt: skip


@pytest.fixture(scope="module")
def done(settings: FtSettings) -> Done:
    """Backtest the SMA-cross template once, as the app would after the strategy agent."""
    with capture_events() as captured, at.bind(correlation_id=at.new_correlation_id()):
        run = run_backtest(sma_cross_strategy("AgentSma"), "AgentSma", strategy_id=456,
                           backtest_id=789, pairs=PAIRS, timerange="20240101-20240105",
                           settings=settings)  # fmt: skip
    return Done(run=run, lines=list(captured.raw), settings=settings)


def test_backtest_runs_and_results_are_read_back(done: Done) -> None:
    """The backtest succeeds, its results land in its own folder and are read back."""
    run = done.run
    assert (run.ok, run.result.status) == (True, "ok")
    assert run.results_dir == done.settings.user_data_dir / "backtests" / "789" / "results"
    assert {Path(p).parent for p in run.result.output_files.values()} == {run.results_dir}
    assert run.stats is not None
    assert run.summary["total_trades"] == run.result.summary["AgentSma"]["total_trades"] > 0
    assert len(run.stats["trades"]) == run.summary["total_trades"]


def test_freqtrade_ran_without_cache_into_the_backtest_folder(done: Done) -> None:
    """The command has ``--cache none`` and this backtest's folders for strategy and results."""
    params = done.run.result.parameters
    folder = str(done.run.directory)
    assert (params["cache"], params["strategy"]) == ("none", "AgentSma")
    assert params["export_directory"] == f"{folder}/results"
    assert params["strategy_path"] == f"{folder}/strategies"
    assert params["config"] == [f"{folder}/config.json"]


def test_every_step_is_logged_with_strategy_and_backtest_ids(done: Done) -> None:
    """File-system and process steps are logged, each with strategy_id and backtest_id."""
    events = [
        line["event"]
        for line in done.lines
        if (line["event"] or "").startswith("ft")
        or (line["event"] or "").startswith("freqtrade.command")
    ]
    expected = ["ft.backtest.start", "ft.userdir.prepared", "ft.backtest.dir_created",
                "ft.strategy.written", "ft.exchange.start", "ft.config.written",
                "freqtrade.command.start", "ft.exchange.request", "freqtrade.command.end",
                "ft.exchange.stop", "ft.results.read", "ft.backtest.end"]  # fmt: skip
    assert [e for e in events if e in expected] == expected
    assert {(line["strategy_id"], line["backtest_id"]) for line in done.lines} == {(456, 789)}
    assert {line["correlation_id"] for line in done.lines} != {None}
    assert len({line["correlation_id"] for line in done.lines}) == 1


def test_the_command_span_is_a_child_of_the_backtest_span(done: Done) -> None:
    """``freqtrade.command`` nests under ``ft.backtest``: one trace tree."""
    (backtest,) = [line for line in done.lines if line["event"] == "ft.backtest.start"]
    (command,) = [line for line in done.lines if line["event"] == "freqtrade.command.start"]
    assert command["parent_span_id"] == backtest["span_id"]
    (end,) = [line for line in done.lines if line["event"] == "ft.backtest.end"]
    assert (end["level"], end["data"]["status"], end["component"]) == (
        "INFO",
        "ok",
        "FTBacktesting",
    )
    assert end["data"]["total_trades"] == done.run.summary["total_trades"]


def test_credentials_are_in_the_config_file_only(done: Done) -> None:
    """The config holds the credentials (owner-only file); no line ever shows them."""
    config = done.run.directory / "config.json"
    exchange = json.loads(config.read_text())["exchange"]
    assert (exchange["key"], exchange["secret"]) == (KEY, SECRET)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    text = json.dumps(done.lines)
    assert (KEY in text, SECRET in text) == (False, False)
    (written,) = [line for line in done.lines if line["event"] == "ft.config.written"]
    assert written["data"]["credential_fields"] == ["exchange.key", "exchange.secret"]


def test_a_failed_backtest_is_reported_not_raised(settings: FtSettings) -> None:
    """A backtest freqtrade cannot finish (here: killed at its timeout) ends at ERROR, with ids."""
    quick = FtSettings(user_data_dir=settings.user_data_dir, timeout_s=1.0)
    with capture_events() as captured:
        run = run_backtest(sma_cross_strategy("AgentSma"), "AgentSma", strategy_id=456,
                           backtest_id=790, pairs=PAIRS, timerange="20240101-20240105",
                           settings=quick)  # fmt: skip
    assert (run.ok, run.result.status, run.stats) == (False, "timeout", None)
    (end,) = captured.by_event("ft.backtest.end")
    assert (end["level"], end["data"]["status"], end["backtest_id"]) == ("ERROR", "error", 790)
    assert end["data"]["freqtrade_status"] == "timeout"


def test_strategy_code_without_its_class_fails_before_freqtrade(settings: FtSettings) -> None:
    """Agent code that lacks the named class is a ValueError; freqtrade never starts."""
    with capture_events() as captured, pytest.raises(ValueError, match="no class 'Missing'"):
        run_backtest(sma_cross_strategy("Other"), "Missing", strategy_id=1, backtest_id=2,
                     pairs=PAIRS, timerange="20240101-20240105", settings=settings)  # fmt: skip
    assert captured.by_event("freqtrade.command.start") == []
    (end,) = captured.by_event("ft.backtest.end")
    assert (end["level"], end["exception"]["type"]) == ("ERROR", "ValueError")
