"""Core benchmark: cost of one log call, ours beside the anchors, in one run.

Every case logs the same INFO line: 5 context fields, a small ``data`` dict with a value that
changes on every call, to a real file (the JSON view) and, where the console view is on, to
/dev/null. Prints the median cost per call over several repetitions and the ratio to ours.
"""

from __future__ import annotations

import contextvars
import datetime
import logging
import logging.handlers
import os
import queue
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import colorlog
import orjson
import structlog
from pythonjsonlogger.json import JsonFormatter as PJLJsonFormatter

import agent_tracing as at

CALLS = int(os.environ.get("BENCH_CALLS", "20000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
TMP = tempfile.mkdtemp(prefix="at-bench-")
DEVNULL = open(os.devnull, "w")  # noqa: SIM115 - the console view's sink for the whole run
CONTEXT = {
    "correlation_id": "a1b2c3d4-e5f6-7890-1234-567890abcdef",
    "user_id": "user_123",
    "strategy_id": 456,
    "backtest_id": 789,
    "component": "BacktestsService",
}


def _reset_logging() -> None:
    at.shutdown_logging()
    for listener in LISTENERS:
        listener.stop()
    LISTENERS.clear()
    for fd in FDS:
        os.close(fd)
    FDS.clear()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for name in ("bench", "bench.seed"):
        lg = logging.getLogger(name)
        for handler in list(lg.handlers):
            lg.removeHandler(handler)
            handler.close()
        lg.propagate = True
        lg.setLevel(logging.NOTSET)


def time_calls(call: Callable[[int], None]) -> float:
    """Microseconds per call over one batch of CALLS calls."""
    start = time.perf_counter_ns()
    for i in range(CALLS):
        call(i)
    return (time.perf_counter_ns() - start) / CALLS / 1000


def measure_all(cases: dict[str, Callable[[], Callable[[int], None]]]) -> dict[str, float]:
    """Median µs per call of each case; repetitions are interleaved across cases (round robin),
    so a burst of noise on the machine hits every case alike."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for repeat in range(REPEATS + 1):
        for name, factory in cases.items():

            def one(factory: Callable[[], Callable[[int], None]] = factory) -> float:
                call = factory()
                for i in range(min(CALLS, 1000)):  # warm up
                    call(i)
                try:
                    return time_calls(call)
                finally:
                    _reset_logging()  # drains queue listeners before the next case runs

            value = contextvars.copy_context().run(one)
            if repeat:  # the first round only warms up
                samples[name].append(value)
    return {name: statistics.median(values) for name, values in samples.items()}


# -- ours ----------------------------------------------------------------------------------------
def ours(console: bool = False, queue_mode: bool = False) -> Callable[[int], None]:
    _reset_logging()
    at.configure_logging(
        console=console,
        console_stream=DEVNULL,
        json_output=os.path.join(TMP, f"ours-{console}-{queue_mode}.jsonl"),
        level="INFO",
        queue_mode=queue_mode,
        color=True,
    )
    log = at.get_logger("bench.ours")
    at.bind_contextvars(**CONTEXT)

    def call(i: int) -> None:
        log.info("Backtest started", data={"trade_id": i, "order": f"ord-{i}", "pair": "BTC/USDT"})

    return call


def ours_filtered() -> Callable[[int], None]:
    _reset_logging()
    at.configure_logging(console=False, json_output=os.path.join(TMP, "f.jsonl"), level="INFO")
    log = at.get_logger("bench.ours")

    def call(i: int) -> None:
        log.debug("Backtest started", data={"trade_id": i})

    return call


# -- the floor: a hand-written writer of the same line ---------------------------------------------
# Common English words, the shape of a prompt (some the secret scan looks at: "key", "token",
# "high"), as a line carrying an LLM prompt holds them. Fixed, so
# every run (and every case) logs the same text.
_WORDS_TEXT = (
    "the of and to in is you that it was for on are as with his they at be this have from or one "
    "had by word but not what all were we when your can said there use an each which she do how "
    "their if will up other about out many then them these so some her would make like him into "
    "time has look two more write go see number no way could people my than first water been call "
    "who oil its now find long down day did get come made may part answer question summary context "
    "user assistant system tool result step plan review check data report market price order trade "
    "key token design high through session author thought sign"
)
_WORDS = _WORDS_TEXT.split()


def prompt(chars: int = 8700) -> str:
    """A prompt of common words (with a few "Question:"-style labels), ``chars`` long."""
    out: list[str] = []
    size = 0
    i = 0
    while size < chars:
        word = _WORDS[(i * 7919) % len(_WORDS)]
        if i % 97 == 0:
            word = "\nQuestion:"
        elif i % 13 == 12:
            word += "."
        out.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(out)[:chars]


def floor(text: str | None = None) -> Callable[[int], None]:
    """The floor ("1.0x"): a hand-written function writing the same 13-key line as ``ours()``
    for the same call (build the dict, ``orjson.dumps``, ``os.write``), with no redaction, no
    bounds and no logging machinery."""
    _reset_logging()
    fd = os.open(os.path.join(TMP, "floor.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    FDS.append(fd)
    utc = datetime.UTC
    now = time.time
    dumps = orjson.dumps
    write = os.write

    def call(i: int) -> None:
        stamp = datetime.datetime.fromtimestamp(now(), utc).isoformat(timespec="milliseconds")
        data: dict[str, object] = {"trade_id": i, "order": f"ord-{i}", "pair": "BTC/USDT"}
        if text is not None:
            data["prompt"] = text
        line = {
            "timestamp": stamp[:-6] + "Z",
            "level": "INFO",
            "correlation_id": CONTEXT["correlation_id"],
            "component": CONTEXT["component"],
            "user_id": CONTEXT["user_id"],
            "strategy_id": CONTEXT["strategy_id"],
            "backtest_id": CONTEXT["backtest_id"],
            "message": "Backtest started",
            "data": data,
            "logger": "bench.ours",
            "event": None,
            "span_id": None,
            "parent_span_id": None,
        }
        write(fd, dumps(line, option=orjson.OPT_APPEND_NEWLINE))

    return call


def floor_prompt() -> Callable[[int], None]:
    """The floor writing the line with an 8.7k-character prompt in ``data``."""
    return floor(prompt())


def ours_prompt() -> Callable[[int], None]:
    """Ours logging the line with an 8.7k-character prompt in ``data``."""
    _reset_logging()
    at.configure_logging(
        console=False, json_output=os.path.join(TMP, "ours-prompt.jsonl"), level="INFO"
    )
    log = at.get_logger("bench.ours")
    at.bind_contextvars(**CONTEXT)
    text = prompt()

    def call(i: int) -> None:
        log.info(
            "Backtest started",
            data={"trade_id": i, "order": f"ord-{i}", "pair": "BTC/USDT", "prompt": text},
        )

    return call


FDS: list[int] = []


# -- the seed's design: stdlib + python-json-logger (+ colorlog) ---------------------------------
class SeedFormatter(PJLJsonFormatter):
    def add_fields(self, log_record, record, message_dict):  # type: ignore[no-untyped-def]
        super().add_fields(log_record, record, message_dict)
        log_record["component"] = record.name


def seed(console: bool = False) -> Callable[[int], None]:
    _reset_logging()
    logger = logging.getLogger("bench.seed")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    if console:
        ch = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
        ch.setFormatter(
            colorlog.ColoredFormatter(
                "%(log_color)s%(levelname)-8s%(reset)s %(blue)s%(name)s%(reset)s - %(message)s",
                force_color=True,
            )
        )
        logger.addHandler(ch)
    fh = logging.FileHandler(os.path.join(TMP, f"seed-{console}.jsonl"))
    fh.setFormatter(
        SeedFormatter("%(timestamp)s %(levelname)s %(message)s %(data)s", timestamp=True)
    )
    logger.addHandler(fh)

    def call(i: int) -> None:
        logger.info(
            "Backtest started",
            extra={**CONTEXT, "data": {"trade_id": i, "order": f"ord-{i}", "pair": "BTC/USDT"}},
        )

    return call


def stdlib_filtered() -> Callable[[int], None]:
    _reset_logging()
    logger = logging.getLogger("bench.seed")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.FileHandler(os.path.join(TMP, "sf.log")))

    def call(i: int) -> None:
        logger.debug("Backtest started", extra={"data": {"trade_id": i}})

    return call


def stdlib_queue() -> Callable[[int], None]:
    _reset_logging()
    logger = logging.getLogger("bench.seed")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    fh = logging.FileHandler(os.path.join(TMP, "sq.jsonl"))
    fh.setFormatter(
        SeedFormatter("%(timestamp)s %(levelname)s %(message)s %(data)s", timestamp=True)
    )
    listener = logging.handlers.QueueListener(q, fh)
    listener.start()
    logger.addHandler(logging.handlers.QueueHandler(q))
    LISTENERS.append(listener)

    def call(i: int) -> None:
        logger.info(
            "Backtest started",
            extra={**CONTEXT, "data": {"trade_id": i, "order": f"ord-{i}", "pair": "BTC/USDT"}},
        )

    return call


LISTENERS: list[logging.handlers.QueueListener] = []


# -- structlog's fastest native setup -------------------------------------------------------------
def structlog_native() -> Callable[[int], None]:
    _reset_logging()
    out = open(os.path.join(TMP, "structlog.jsonl"), "wb")  # noqa: SIM115
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.BytesLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(**CONTEXT)
    log = structlog.get_logger()

    def call(i: int) -> None:
        log.info("Backtest started", data={"trade_id": i, "order": f"ord-{i}", "pair": "BTC/USDT"})

    return call


def main() -> None:
    m = measure_all(
        {
            "floor": floor,
            "ours": ours,
            "seed": seed,
            "structlog": structlog_native,
            "ours+console": lambda: ours(console=True),
            "seed+console": lambda: seed(console=True),
            "ours filtered": ours_filtered,
            "stdlib filtered": stdlib_filtered,
            "ours queue": lambda: ours(queue_mode=True),
            "stdlib queue": stdlib_queue,
        }
    )
    at.shutdown_logging()
    rows = [
        ("JSON line to file", "ours", "structlog native (orjson, BytesLogger)", "structlog"),
        ("JSON line to file", "ours", "stdlib + python-json-logger (seed design)", "seed"),
        (
            "JSON file + console view",
            "ours+console",
            "python-json-logger + colorlog ColoredFormatter",
            "seed+console",
        ),
        ("filtered-out DEBUG call", "ours filtered", "stdlib logger.debug", "stdlib filtered"),
        (
            "queue mode, caller's cost",
            "ours queue",
            "stdlib QueueHandler (+ python-json-logger)",
            "stdlib queue",
        ),
    ]
    print(
        f"\ncore log call: median µs per call, {REPEATS} interleaved rounds of {CALLS} calls, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print("| case | ours µs | anchor | anchor µs | ours / anchor |")
    print("|---|---|---|---|---|")
    for case, mine, anchor_name, anchor in rows:
        print(
            f"| {case} | {m[mine]:.2f} | {anchor_name} | {m[anchor]:.2f} | "
            f"{m[mine] / m[anchor]:.2f} |"
        )
    print(f"JSON line vs the floor (hand-written writer): {m['ours'] / m['floor']:.2f}x")
    print(f"\nJSON path vs seed design: {m['seed'] / m['ours']:.1f}x faster (target >= 3x)")
    print(f"JSON path vs structlog native: ratio {m['ours'] / m['structlog']:.2f} (target <= 1.0)")
    print(
        f"filtered call vs stdlib: ratio {m['ours filtered'] / m['stdlib filtered']:.2f} "
        "(target <= 2.0)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
