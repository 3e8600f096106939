"""Freqtrade runner benchmark: what relaying freqtrade's output as structured lines costs.

1. Relaying: a child prints N freqtrade-format log lines (with tracebacks and progress bars, as
   freqtrade does) to stderr. Ours (parse, scrub secrets, one JSON line per record to a file) beside
   a bare ``subprocess.run(capture_output=True)`` (no lines at all: the floor) and a naive relay
   (each raw line to a stdlib logger with python-json-logger, the seed design).
2. A real offline backtest (exchange stand-in, synthetic candles): ours beside
   ``subprocess.run(capture_output=True)`` of the same command.

Rounds are interleaved so noise on the machine hits every case alike; medians are printed.
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter as PJLJsonFormatter

import agent_tracing as at
from agent_tracing.freqtrade import FreqtradeRunner, default_executable

LINES = int(os.environ.get("BENCH_FT_LINES", "20000"))
ROUNDS = int(os.environ.get("BENCH_FT_ROUNDS", "5"))
REAL_ROUNDS = int(os.environ.get("BENCH_FT_REAL_ROUNDS", "2"))
TMP = Path(tempfile.mkdtemp(prefix="at-bench-ft-"))


def _synthetic_output() -> Path:
    """The child's stderr, written once: N log lines, a traceback every 1000, progress bars."""
    parts: list[str] = []
    for i in range(LINES):
        prefix = f"2026-11-27 12:57:28,{i % 1000:03d} - freqtrade.optimize.backtesting - INFO"
        parts.append(f"{prefix} - Running backtesting step {i} for pair BTC/USDT, value {i * 7}\n")
        if i % 1000 == 999:
            parts.append("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
                         "ValueError: step failed\n")  # fmt: skip
        if i % 500 == 0:
            parts.append(f"backtest {'━' * 60} {i}/{LINES} 50% • 0:00:01 • 0:00:01\n")
    path = TMP / "stderr.txt"
    path.write_text("".join(parts))
    return path


def _child(path: Path) -> list[str]:
    script = (
        "import sys; sys.stderr.buffer.write(open(sys.argv[1], 'rb').read()); sys.stderr.flush()"
    )
    return [sys.executable, "-c", script, str(path)]


def _reset() -> None:
    at.shutdown_logging()
    for name in ("", "relay"):
        logger = logging.getLogger(name or None)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    logging.getLogger("relay").propagate = True


def ours(argv: list[str]) -> Callable[[], None]:
    def run() -> None:
        _reset()
        at.configure_logging(console=False, json_output=str(TMP / "ours.jsonl"), level="INFO")
        runner = FreqtradeRunner(executable=argv[:1], timeout=600)
        result = runner.run(argv[1:])
        assert result.exit_code == 0, result.errors
        at.flush_logging()
        _reset()

    return run


def capture_only(argv: list[str]) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(argv, capture_output=True, check=False)

    return run


def naive_relay(argv: list[str]) -> Callable[[], None]:
    def run() -> None:
        _reset()
        logger = logging.getLogger("relay")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        handler = logging.FileHandler(TMP / "naive.jsonl")
        handler.setFormatter(PJLJsonFormatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        for line in proc.stderr:
            logger.info(line.rstrip("\n"), extra={"data": {"stream": "stderr"}})
        proc.wait()
        _reset()

    return run


def measure(cases: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median wall milliseconds of each case over interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            start = time.perf_counter()
            case()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def _real_backtest_argv() -> tuple[list[str], Callable[[], None]]:
    from app.util.ft import (
        FtSettings,
        LoopbackExchange,
        generate_ohlcv,
        prepare_user_data,
        sma_cross_strategy,
        write_config,
        write_strategy,
    )

    pairs = ["BTC/USDT", "ETH/USDT"]
    root = TMP / "user_data"
    generate_ohlcv(prepare_user_data(root).datadir, pairs, days=4)
    write_strategy(root / "strategies", sma_cross_strategy("SmaCross"), "SmaCross")
    exchange = LoopbackExchange(pairs).start()
    config = write_config(root / "config.json", FtSettings(), pairs=pairs, timeframe="5m",
                          exchange_api_url=exchange.api_url)  # fmt: skip
    results = root / "bt"
    results.mkdir()
    argv = [*default_executable(), "backtesting", "--config", str(config), "--userdir", str(root),
            "--strategy", "SmaCross", "--timerange", "20240101-20240105", "--cache", "none",
            "--backtest-directory", str(results)]  # fmt: skip
    return argv, exchange.stop


def main() -> None:
    argv = _child(_synthetic_output())
    relay = measure(
        {"ours": ours(argv), "capture": capture_only(argv), "naive": naive_relay(argv)}, ROUNDS
    )
    real_argv, stop = _real_backtest_argv()
    try:
        real = measure({"ours": ours(real_argv), "capture": capture_only(real_argv)}, REAL_ROUNDS)
    finally:
        stop()
    per_line = (relay["ours"] - relay["capture"]) / LINES * 1000
    naive_line = (relay["naive"] - relay["capture"]) / LINES * 1000
    print(f"\nfreqtrade runner: median wall ms, {time.strftime('%Y-%m-%d')}")
    print(
        f"relay: {ROUNDS} interleaved rounds of {LINES} log lines; backtest: {REAL_ROUNDS} rounds"
    )
    print("| case | ours ms | anchor | anchor ms | ours / anchor |")
    print("|---|---|---|---|---|")
    rows = [
        ("relay N lines", relay["ours"], "subprocess.run capture only", relay["capture"]),
        ("relay N lines", relay["ours"], "naive relay: stdlib + python-json-logger per raw line",
         relay["naive"]),
        ("real offline backtest", real["ours"], "subprocess.run capture only", real["capture"]),
    ]  # fmt: skip
    for case, mine, anchor, theirs in rows:
        print(f"| {case} | {mine:.0f} | {anchor} | {theirs:.0f} | {mine / theirs:.2f} |")
    print(f"\nper relayed line above the capture floor: ours {per_line:.1f} µs, "
          f"naive relay {naive_line:.1f} µs")  # fmt: skip
    print(f"real backtest overhead: {real['ours'] - real['capture']:+.0f} ms "
          f"({(real['ours'] / real['capture'] - 1) * 100:+.1f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
