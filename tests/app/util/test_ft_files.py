"""The app's freqtrade settings, user_data folders, config file and strategy files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_tracing.testing import CapturedEvents
from app.util.ft import (
    FtSettings,
    build_config,
    container_path,
    freqtrade_runner,
    ft_settings_from_env,
    prepare_user_data,
    sma_cross_strategy,
    write_config,
    write_strategy,
)


def test_settings_from_environment_and_hidden_secrets() -> None:
    """``FT_*`` variables fill the settings; ``repr`` never shows the credentials."""
    settings = ft_settings_from_env({
        "FT_EXCHANGE_KEY": "k-value-1", "FT_EXCHANGE_SECRET": "s-value-1",
        "FT_STAKE_AMOUNT": "unlimited", "FT_OFFLINE": "false", "FT_TIMEOUT_S": "30",
        "FT_USER_DATA_DIR": "/srv/ud", "FT_DOCKER_IMAGE": "freqtradeorg/freqtrade:stable",
    })  # fmt: skip
    assert (settings.exchange_key, settings.exchange_secret) == ("k-value-1", "s-value-1")
    assert (settings.stake_amount, settings.offline, settings.timeout_s) == ("unlimited", False, 30)
    assert settings.user_data_dir == Path("/srv/ud")
    assert "k-value-1" not in repr(settings)
    assert "s-value-1" not in repr(settings)
    assert ft_settings_from_env({}) == FtSettings()


def test_user_data_folders_are_created_once(tmp_path: Path, log_events: CapturedEvents) -> None:
    """The folders freqtrade expects are created; a second call creates nothing."""
    first = prepare_user_data(tmp_path / "ud", "binance")
    prepare_user_data(tmp_path / "ud", "binance")
    assert first.datadir == tmp_path / "ud" / "data" / "binance"
    assert first.datadir.is_dir()
    assert first.backtest_dir(7) == tmp_path / "ud" / "backtests" / "7"
    created = [line["data"]["created"] for line in log_events.by_event("ft.userdir.prepared")]
    assert created[1] == []
    assert "data/binance" in created[0]


def test_config_offline_and_online() -> None:
    """Offline, ccxt's public API points at the stand-in; online, the exchange is untouched."""
    settings = FtSettings(exchange_key="k-1234", exchange_secret="s-1234")
    offline = build_config(settings, pairs=["BTC/USDT"], timeframe="5m",
                           exchange_api_url="http://127.0.0.1:9/api/v3")  # fmt: skip
    online = build_config(settings, pairs=["BTC/USDT"], timeframe="5m")
    assert (
        offline["exchange"]["ccxt_config"]["urls"]["api"]["public"] == "http://127.0.0.1:9/api/v3"
    )
    assert "ccxt_config" not in online["exchange"]
    assert (online["dry_run"], online["exchange"]["pair_whitelist"]) == (True, ["BTC/USDT"])


def test_config_file_is_private_and_its_log_line_secret_free(
    tmp_path: Path, log_events: CapturedEvents
) -> None:
    """The written config is owner-only; its log line names the credentials, not their values."""
    settings = FtSettings(exchange_key="planted-k-0001", exchange_secret="planted-s-0002")
    path = write_config(
        tmp_path / "c" / "config.json", settings, pairs=["BTC/USDT"], timeframe="5m"
    )
    assert json.loads(path.read_text())["exchange"]["secret"] == "planted-s-0002"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    text = json.dumps(log_events.raw)
    assert ("planted-k-0001" in text, "planted-s-0002" in text) == (False, False)
    (line,) = log_events.by_event("ft.config.written")
    assert line["data"]["credential_fields"] == ["exchange.key", "exchange.secret"]


def test_strategy_file_is_written_under_its_class_name(
    tmp_path: Path, log_events: CapturedEvents
) -> None:
    """Strategy code is written as ``<ClassName>.py``; its path and size are logged, not code."""
    code = sma_cross_strategy("MyAgentStrategy", fast=5, slow=13)
    path = write_strategy(tmp_path, code, "MyAgentStrategy")
    assert path == tmp_path / "MyAgentStrategy.py"
    assert "rolling(13)" in path.read_text()
    (line,) = log_events.by_event("ft.strategy.written")
    assert line["data"] == {"class_name": "MyAgentStrategy", "path": str(path),
                            "bytes": len(code.encode())}  # fmt: skip


@pytest.mark.parametrize(
    ("code", "class_name", "error"),
    [
        ("class A:\n    pass\n", "B", "defines no class 'B'"),
        ("class A(:\n", "A", "does not parse"),
        ("class A:\n    pass\n", "../A", "not a class name"),
    ],
)
def test_bad_strategy_code_is_refused(
    tmp_path: Path, code: str, class_name: str, error: str
) -> None:
    """Unparsable code, a missing class or a bad class name: refused, nothing written."""
    with pytest.raises(ValueError, match=error):
        write_strategy(tmp_path, code, class_name)
    assert list(tmp_path.iterdir()) == []


def test_docker_runner_mounts_user_data_and_maps_paths(tmp_path: Path) -> None:
    """With a Docker image, user_data is mounted and paths translate both ways."""
    settings = FtSettings(user_data_dir=tmp_path, docker_image="freqtradeorg/freqtrade:stable")
    runner = freqtrade_runner(settings)
    assert runner.docker is not None
    assert dict(runner.docker.volumes) == {str(tmp_path.resolve()): "/freqtrade/user_data"}
    config = tmp_path / "backtests" / "7" / "config.json"
    inside = container_path(config, tmp_path)
    assert inside == "/freqtrade/user_data/backtests/7/config.json"
    assert runner.docker.to_host(inside) == config.resolve()
    assert freqtrade_runner(FtSettings(user_data_dir=tmp_path)).docker is None
