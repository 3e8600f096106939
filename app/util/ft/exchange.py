"""A loopback stand-in for the exchange's market-list endpoint, so freqtrade runs offline.

Freqtrade loads the exchange's markets at start-up and stops without them. Pointing ccxt's public
API at this server (``exchange.ccxt_config.urls.api.public``, see :func:`ccxt_overrides`) answers
that one request (Binance's ``GET /api/v3/exchangeInfo``) with the whitelisted pairs; everything
else freqtrade does is real. It binds 127.0.0.1 on a port the OS picks.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import agent_tracing as at
from app.util.logger import setup_logger

__all__ = ["LoopbackExchange", "ccxt_overrides", "exchange_info"]

log = setup_logger("util.ft.exchange", component="FTExchange")


def _symbol(pair: str) -> dict[str, Any]:
    base, quote = pair.split("/")
    return {
        "symbol": f"{base}{quote}",
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.00000001",
                "maxPrice": "1000000.00",
                "tickSize": "0.00000001",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001",
                "maxQty": "9000000.0",
                "stepSize": "0.00001",
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.0",
                "maxQty": "100000.0",
                "stepSize": "0.0",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.0",
                "applyMinToMarket": True,
                "maxNotional": "9000000.0",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
    }


def exchange_info(pairs: Sequence[str]) -> dict[str, Any]:
    """Return Binance's ``exchangeInfo`` answer listing ``pairs`` (``BASE/QUOTE``) as spot."""
    return {
        "timezone": "UTC",
        "serverTime": int(time.time() * 1000),
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": [_symbol(p) for p in pairs],
    }


def ccxt_overrides(api_url: str) -> dict[str, Any]:
    """Return the ``exchange.ccxt_config`` that sends ccxt's public API to ``api_url``."""
    return {"urls": {"api": {"public": api_url}}, "options": {"fetchMarkets": {"types": ["spot"]}}}


class LoopbackExchange:
    """The stand-in server, as a context manager: ``with LoopbackExchange(pairs) as ex:``.

    Args:
        pairs: Every pair freqtrade will whitelist (it stops on a pair the exchange lacks).
        host: The address to bind; loopback only.
    """

    def __init__(self, pairs: Sequence[str], host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the exchange stand-in binds a loopback address only")
        self.pairs = list(pairs)
        self.host = host
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._context: dict[str, Any] = {}

    @property
    def port(self) -> int:
        """The port the OS gave the server."""
        if self._server is None:
            raise RuntimeError("the exchange stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        """The URL to give ccxt as its public API."""
        return f"http://{self.host}:{self.port}/api/v3"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                context = owner._context  # as it was when the request came, not after answering
                path = self.path.split("?", 1)[0]
                owner.requests.append(path)
                if path.endswith("/exchangeInfo"):
                    status, body = 200, json.dumps(exchange_info(owner.pairs)).encode()
                else:
                    status, body = 404, b'{"code":-1,"msg":"not served offline"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with at.bind(**context):
                    log.log(
                        20 if status == 200 else 30,
                        "Exchange stand-in answered %s %s",
                        path,
                        status,
                        event="ft.exchange.request",
                        data={"path": path, "status": status, "pairs": len(owner.pairs)},
                    )

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests are logged above, as structured lines

        return Handler

    def set_context(self, context: dict[str, Any]) -> None:
        """Log the next requests with ``context`` (a stand-in kept for many backtests, one at a
        time, takes each backtest's context before it runs)."""
        self._context = dict(context)

    def start(self) -> LoopbackExchange:
        """Bind and serve in a daemon thread; returns the stand-in."""
        self._context = at.current_context()
        self._server = ThreadingHTTPServer((self.host, 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ft-exchange-stand-in", daemon=True
        )
        self._thread.start()
        log.info(
            "Exchange stand-in listening on %s",
            self.api_url,
            event="ft.exchange.start",
            data={"url": self.api_url, "pairs": self.pairs},
        )
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        log.info(
            "Exchange stand-in stopped",
            event="ft.exchange.stop",
            data={"requests": len(self.requests)},
        )

    def __enter__(self) -> LoopbackExchange:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
