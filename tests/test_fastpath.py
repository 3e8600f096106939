"""The logger's fast path writes, field by field, the line the full record path writes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import agent_tracing as at
from agent_tracing import _fastpath

Call = Callable[[at.BoundLogger], None]
#: How to read the JSON view's lines, and its handler.
Log = tuple[Callable[[], list[dict[str, Any]]], logging.Handler]

CALLS: dict[str, Call] = {
    "plain": lambda log: log.info("Backtest started"),
    "data": lambda log: log.info("x", data={"trade_id": 7, "pair": "BTC/USDT", "ok": True}),
    "event": lambda log: log.warning("slow", event="db.query.slow", data={"ms": 1.5}),
    "percent args": lambda log: log.info("v=%s %d", "a", 3),
    "mapping arg": lambda log: log.info("%(k)s!", {"k": "v"}),
    "bad format": lambda log: log.info("%d", "not a number"),
    "non-str message": lambda log: log.error(Decimal("1.5")),
    "keywords": lambda log: log.info(
        "k", correlation_id="c-9", user_id="u", strategy_id=4, backtest_id=5, component="Svc"
    ),
    "extra": lambda log: log.info("e", extra={"user_id": "x", "data": {"a": 1}, "more": [1, 2]}),
    "secrets": lambda log: log.info(
        "token sk-abcdefghijklmnopqrstuvwx", data={"password": "hunter2", "n": {"api_key": "k"}}
    ),
    "controls and unicode": lambda log: log.info("a\u2028b\x7f\u00e9\u65e5", data={"s": "\x85"}),
    "lone surrogate": lambda log: log.info("\ud800", data={"k": "\udfff"}),
    "long": lambda log: log.info("m" * 20000, data={"big": list(range(500))}),
    "nan and big int": lambda log: log.info("n", data={"f": float("nan"), "i": 10**5000}),
    "debug": lambda log: log.debug("d", data={"x": None}),
    "critical": lambda log: log.critical("c"),
    "bound logger": lambda log: log.bind(user_id="b", tenant="t", event="bound.ev").info("b"),
}


@pytest.fixture(params=["file", "stream"])
def file_log(request: pytest.FixtureRequest, tmp_path: Path) -> Log:
    """The JSON view as the only handler, at DEBUG, as configure_logging makes it: to a file,
    or to stdout (here a buffer); and how to read its lines (timestamps dropped)."""
    path = tmp_path / "out.jsonl"
    output = str(path) if request.param == "file" else "stdout"
    at.configure_logging(console=False, json=True, json_output=output, level="DEBUG")
    (handler,) = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, (at.JsonFileHandler, at.JsonStreamHandler))
    ]
    buffer = io.StringIO()
    if request.param == "stream":
        handler.setStream(buffer)  # type: ignore[attr-defined]

    def lines() -> list[dict[str, Any]]:
        at.flush_logging()
        text = path.read_text() if request.param == "file" else buffer.getvalue()
        out = [json.loads(line) for line in text.splitlines()]
        for line in out:
            line.pop("timestamp")
        return out

    return lines, handler


@contextmanager
def _alone(handler: logging.Handler) -> Iterator[None]:
    """The root with ``handler`` only, as outside a test run: pytest's capture handlers (which
    configure_logging leaves on the root, and pytest adds for each test phase) are taken off."""
    root = logging.getLogger()
    others = [h for h in root.handlers if h is not handler]
    for other in others:
        root.removeHandler(other)
    try:
        yield
    finally:
        for other in others:
            root.addHandler(other)


class _PassAll(logging.Filter):
    """A filter that lets everything through: its presence alone makes the full path run."""


@pytest.mark.parametrize("name", list(CALLS))
def test_the_fast_line_is_the_full_paths_line(
    name: str, file_log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same call, in the same context, gives the same line by both paths (timestamps
    aside), and the first call really took the fast path (the handler's emit never ran)."""
    lines, handler = file_log
    emitted: list[logging.LogRecord] = []
    emit = type(handler).emit
    monkeypatch.setattr(
        type(handler), "emit", lambda self, record: (emitted.append(record), emit(self, record))
    )
    log = at.get_logger("app.fast")
    with (
        _alone(handler),
        at.bind(correlation_id="cid-1", user_id="u1", extra_key="bound"),
        at.span("op"),
    ):
        emitted.clear()
        CALLS[name](log)
        assert emitted == []  # the fast path
        handler.addFilter(_PassAll())
        try:
            CALLS[name](log)
        finally:
            handler.removeFilter(handler.filters[0])
        assert len(emitted) == 1  # the full path
    fast, full = [line for line in lines() if line["logger"] == "app.fast"]
    assert fast == full


def test_the_fast_path_is_taken_only_when_nothing_else_would_see_the_record(
    file_log: Log,
) -> None:
    """pytest's capture handler, another handler, a logger filter, a handler level above the
    call, a custom level, a formatter subclass or a logger that does not propagate to the file:
    no fast path."""
    writer = file_log[1]
    logger = logging.getLogger("app.which")
    assert _fastpath.sole_writer(logger, logging.INFO) is None  # pytest's capture is there
    with _alone(writer):
        assert _fastpath.sole_writer(logger, logging.INFO) is writer
        assert _fastpath.sole_writer(logger, 25) is None
        other = logging.StreamHandler()
        logger.addHandler(other)
        assert _fastpath.sole_writer(logger, logging.INFO) is None
        logger.removeHandler(other)
        logger.addFilter(_PassAll())
        assert _fastpath.sole_writer(logger, logging.INFO) is None
        logger.removeFilter(logger.filters[0])
        writer.setLevel(logging.WARNING)
        assert _fastpath.sole_writer(logger, logging.INFO) is None
        writer.setLevel(logging.NOTSET)

        class Mine(at.JsonFormatter):
            pass

        plain = writer.formatter
        writer.setFormatter(Mine())
        assert _fastpath.sole_writer(logger, logging.INFO) is None
        writer.setFormatter(plain)
        logger.propagate = False
        try:
            assert _fastpath.sole_writer(logger, logging.INFO) is None
        finally:
            logger.propagate = True
        assert _fastpath.sole_writer(logger, logging.INFO) is writer


def test_an_exception_or_stack_takes_the_full_path(
    file_log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line with an exception or stack info is made from a record, with its exception."""
    lines, handler = file_log
    emitted: list[logging.LogRecord] = []
    emit = type(handler).emit
    monkeypatch.setattr(
        type(handler), "emit", lambda self, record: (emitted.append(record), emit(self, record))
    )
    log = at.get_logger("app.fast")
    with _alone(handler):
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
        log.info("stack", stack_info=True)
    assert len(emitted) == 2
    first, second = lines()
    assert first["exception"]["type"] == "ValueError"
    assert "stack_info" in second["data"]


def test_a_fast_line_that_cannot_be_built_is_a_fallback_line(
    file_log: Log,
) -> None:
    """A value whose cleaning raises inside the fast path still gives one schema line saying so,
    never an exception in the caller."""
    lines, _ = file_log

    class Hostile(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise RuntimeError("no items")

        def __iter__(self) -> Any:
            raise RuntimeError("no iter")

    with _alone(file_log[1]):
        at.get_logger("app.fast").info("hostile", data=Hostile(a=1))
    (line,) = lines()
    assert line["message"] == "hostile"
    assert list(line) == [key for key in at.SCHEMA_KEYS if key != "timestamp"]
