"""The offline stand-ins: the loopback exchange and the synthetic candles."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agent_tracing.testing import CapturedEvents
from app.util.ft import LoopbackExchange, ccxt_overrides, generate_ohlcv


def test_exchange_stand_in_lists_every_pair_on_loopback(log_events: CapturedEvents) -> None:
    """The stand-in answers exchangeInfo with each pair, on 127.0.0.1, and logs the request."""
    with LoopbackExchange(["BTC/USDT", "ETH/BTC"]) as exchange:
        assert exchange.api_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{exchange.api_url}/exchangeInfo", timeout=5) as response:
            body = json.loads(response.read())
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{exchange.api_url}/ticker/price", timeout=5)
    assert [(s["symbol"], s["baseAsset"], s["quoteAsset"]) for s in body["symbols"]] == [
        ("BTCUSDT", "BTC", "USDT"),
        ("ETHBTC", "ETH", "BTC"),
    ]
    assert missing.value.code == 404
    assert exchange.requests == ["/api/v3/exchangeInfo", "/api/v3/ticker/price"]
    statuses = [line["data"]["status"] for line in log_events.by_event("ft.exchange.request")]
    assert statuses == [200, 404]
    assert len(log_events.by_event("ft.exchange.stop")) == 1


def test_exchange_stand_in_refuses_a_public_address() -> None:
    """The stand-in never binds anything but loopback."""
    with pytest.raises(ValueError, match="loopback"):
        LoopbackExchange(["BTC/USDT"], host="0.0.0.0")


def test_ccxt_overrides_point_the_public_api_at_the_stand_in() -> None:
    """The config overrides send ccxt's public API (and spot markets only) to the given URL."""
    assert ccxt_overrides("http://127.0.0.1:1/api/v3") == {
        "urls": {"api": {"public": "http://127.0.0.1:1/api/v3"}},
        "options": {"fetchMarkets": {"types": ["spot"]}},
    }


def test_candles_are_written_in_freqtrades_format(tmp_path: Path) -> None:
    """The candles load back with freqtrade's own handler, complete and the same every time."""
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType

    files = generate_ohlcv(tmp_path, ["BTC/USDT"], days=1, seed=3)
    assert files == [tmp_path / "BTC_USDT-5m.feather"]
    handler = get_datahandler(tmp_path, "feather")
    frame = handler.ohlcv_load("BTC/USDT", "5m", CandleType.SPOT)
    assert len(frame) == 288
    assert list(frame.columns) == ["date", "open", "high", "low", "close", "volume"]
    assert str(frame["date"].dt.tz) == "UTC"
    assert bool(((frame["low"] <= frame[["open", "close"]].min(axis=1))
                 & (frame["high"] >= frame[["open", "close"]].max(axis=1))).all())  # fmt: skip
    first = frame["close"].tolist()
    generate_ohlcv(tmp_path, ["BTC/USDT"], days=1, seed=3)
    again = handler.ohlcv_load("BTC/USDT", "5m", CandleType.SPOT)
    assert again["close"].tolist() == first


def test_a_kept_stand_in_logs_each_request_with_the_context_it_was_given(
    log_events: CapturedEvents,
) -> None:
    """set_context switches the context of the request lines (one backtest after another)."""
    with LoopbackExchange(["BTC/USDT"]) as exchange:
        for backtest_id in (1, 2):
            exchange.set_context(
                {"correlation_id": f"cid-{backtest_id}", "backtest_id": backtest_id}
            )
            with urllib.request.urlopen(f"{exchange.api_url}/exchangeInfo", timeout=5):
                pass
    lines = log_events.by_event("ft.exchange.request")
    assert [(line["correlation_id"], line["backtest_id"]) for line in lines] == [
        ("cid-1", 1),
        ("cid-2", 2),
    ]
