"""Our logger's records are the stdlib's: the inline build gives, attribute for attribute and in
the same order, what ``Logger.makeRecord`` gives for the same call on this Python (3.11 to 3.13),
caller lookup and ``stacklevel`` included; only the clock fields are compared loosely."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest

import agent_tracing as at
from agent_tracing.records import ATTR_CONTEXT

#: Fields read from the clock at slightly different instants.
CLOCK = ("created", "msecs", "relativeCreated")


class Records(logging.Handler):
    """Keeps every record it is handed, unformatted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Pair:
    """Our logger and a stdlib logger of the same name, each with its own record list."""

    def __init__(self) -> None:
        self.std = logging.Logger("parity.x", logging.DEBUG)
        self.std_records = Records()
        self.std.addHandler(self.std_records)
        private = logging.Logger("parity.x", logging.DEBUG)
        self.our_records = Records()
        private.addHandler(self.our_records)
        self.ours = at.BoundLogger(private)

    def both(self, call: Callable[[Any], None]) -> tuple[logging.LogRecord, logging.LogRecord]:
        """Make the same call on both loggers, from the same frame and line."""
        for log in (self.ours, self.std):
            call(log)
        return self.our_records.records[-1], self.std_records.records[-1]


@pytest.fixture
def pair() -> Pair:
    """A fresh pair of loggers."""
    return Pair()


def assert_same_record(ours: logging.LogRecord, std: logging.LogRecord) -> None:
    """Every attribute of ``std`` is on ``ours``, in the same order, with the same value."""
    mine = {key: value for key, value in vars(ours).items() if not key.startswith("_at_")}
    theirs = vars(std)
    assert list(mine) == list(theirs)
    exact = [key for key in theirs if key not in CLOCK]
    assert {key: mine[key] for key in exact} == {key: theirs[key] for key in exact}
    assert abs(ours.created - std.created) < 1.0
    assert abs(ours.relativeCreated - std.relativeCreated) < 1000.0
    assert 0.0 <= ours.msecs < 1000.0
    assert int(ours.created * 1000) % 1000 in (int(ours.msecs), (int(ours.msecs) + 1) % 1000)


def helper_that_logs(log: Any, **kwargs: Any) -> None:
    """A logging helper: ``stacklevel=2`` names its caller, not this function."""
    log.warning("from the helper", stacklevel=2, **kwargs)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda log: log.info("plain"), id="plain"),
        pytest.param(lambda log: log.info("a %s %d", "x", 3), id="args"),
        pytest.param(lambda log: log.info("%(a)s", {"a": 1}), id="mapping-args"),
        pytest.param(lambda log: log.log(25, "custom level"), id="custom-level"),
        pytest.param(lambda log: log.debug("stack", stack_info=True), id="stack-info"),
        pytest.param(lambda log: log.info("extra", extra={"custom": 1}), id="extra"),
        pytest.param(helper_that_logs, id="stacklevel-2"),
        pytest.param(lambda log: helper_that_logs(log, stack_info=True), id="stacklevel-stack"),
        pytest.param(lambda log: log.info("deep", stacklevel=99), id="stacklevel-past-top"),
        pytest.param(
            lambda log: logging.LoggerAdapter(log).info("adapter"),
            id="adapter",
        ),
    ],
)
def test_record_equals_the_stdlib_record(pair: Pair, call: Callable[[Any], None]) -> None:
    """The same call on our logger and on a stdlib logger gives equal records."""
    ours, std = pair.both(call)
    assert_same_record(ours, std)


def test_exception_record_equals_the_stdlib_record(pair: Pair) -> None:
    """exc_info from ``exception()`` inside an except block is the same tuple."""
    try:
        raise ValueError("boom")
    except ValueError:
        ours, std = pair.both(lambda log: log.exception("failed"))
    assert_same_record(ours, std)
    assert ours.exc_info is not None
    assert ours.exc_info[0] is ValueError


def test_stacklevel_is_honoured(pair: Pair) -> None:
    """``stacklevel=2`` reports the helper's caller: this test's frame, not the helper."""
    ours, _ = pair.both(helper_that_logs)
    assert ours.funcName == "both"
    assert ours.pathname == __file__
    assert ours.filename == "test_record_parity.py"
    assert ours.module == "test_record_parity"


def test_record_in_an_asyncio_task_equals_the_stdlib_record(pair: Pair) -> None:
    """Inside a task the record carries the task's name (3.12+), as the stdlib's does."""

    async def main() -> tuple[logging.LogRecord, logging.LogRecord]:
        return pair.both(lambda log: log.info("in a task"))

    ours, std = asyncio.run(main())
    assert_same_record(ours, std)
    if sys.version_info >= (3, 12):
        assert ours.taskName is not None  # type: ignore[attr-defined]


def test_record_from_a_loop_callback_equals_the_stdlib_record(pair: Pair) -> None:
    """A loop callback outside any task: no task name, as the stdlib finds."""
    result: list[tuple[logging.LogRecord, logging.LogRecord]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def callback() -> None:
            result.append(pair.both(lambda log: log.info("in a callback")))
            done.set_result(None)

        loop.call_soon(callback)
        await done

    asyncio.run(main())
    assert_same_record(*result[0])


@pytest.mark.parametrize("flag", ["logThreads", "logProcesses", "logMultiprocessing", "_srcfile"])
def test_record_honours_the_stdlib_switches(
    pair: Pair, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    """With a ``logging.log*`` switch (or ``_srcfile``) turned off, the records still match."""
    monkeypatch.setattr(logging, flag, None if flag == "_srcfile" else False)
    ours, std = pair.both(lambda log: log.info("switched", stack_info=True))
    assert_same_record(ours, std)


def test_record_honours_the_asyncio_task_switch(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``logging.logAsyncioTasks`` off (3.12+), no task name, as the stdlib gives."""
    monkeypatch.setattr(logging, "logAsyncioTasks", False, raising=False)

    async def main() -> tuple[logging.LogRecord, logging.LogRecord]:
        return pair.both(lambda log: log.info("in a task"))

    assert_same_record(*asyncio.run(main()))


def test_record_from_an_installed_factory_has_the_caller(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An application's record factory gets the caller and stack, as from ``makeRecord``."""
    factory = logging.getLogRecordFactory()

    def wrapped(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return factory(*args, **kwargs)

    monkeypatch.setattr(logging, "_logRecordFactory", wrapped)
    for call in (
        lambda log: log.info("%(a)s", {"a": 1}, stack_info=True),
        helper_that_logs,
    ):
        ours, std = pair.both(call)
        assert_same_record(ours, std)


def test_relative_created_is_milliseconds_since_logging_started(pair: Pair) -> None:
    """relativeCreated is in milliseconds on every Python (3.13 keeps its start in ns)."""
    ours, _ = pair.both(lambda log: log.info("when"))
    start = logging._startTime  # type: ignore[attr-defined]
    start_seconds = start / 1e9 if isinstance(start, int) else start
    assert abs(ours.relativeCreated - (ours.created - start_seconds) * 1000) < 5.0


def test_level_names_follow_add_level_name(pair: Pair) -> None:
    """A level renamed with ``addLevelName`` is named the same on both records."""
    logging.addLevelName(26, "NOTICE")
    ours, std = pair.both(lambda log: log.log(26, "renamed"))
    assert (ours.levelname, std.levelname) == ("NOTICE", "NOTICE")


def test_context_still_rides_on_the_record(pair: Pair) -> None:
    """The parity build keeps our own attributes (the context) beside the stdlib's."""
    with at.bind(correlation_id="cid-parity"):
        ours, _ = pair.both(lambda log: log.info("bound"))
    assert vars(ours)[ATTR_CONTEXT]["correlation_id"] == "cid-parity"


def two_sites(log: Any) -> None:
    """Two calls from one function, on two lines."""
    log.info("first")
    log.info("second")


def test_each_call_site_has_its_own_line(pair: Pair) -> None:
    """Two call sites in one code object get their own line numbers, every time."""
    for _ in range(3):
        pair.both(two_sites)
        ours, std = pair.our_records.records[-2:], pair.std_records.records[-2:]
        assert_same_record(ours[0], std[0])
        assert_same_record(ours[1], std[1])
        assert ours[1].lineno == ours[0].lineno + 1


def test_a_bad_stacklevel_never_raises(pair: Pair) -> None:
    """A stacklevel that is not a number names the direct caller instead of raising."""
    pair.ours.info("odd", stacklevel="two")  # type: ignore[arg-type]
    record = pair.our_records.records[-1]
    assert (record.funcName, record.getMessage()) == (
        "test_a_bad_stacklevel_never_raises",
        "odd",
    )


@pytest.mark.parametrize("where", ["same logger", "root"])
def test_a_handler_after_our_json_handler_gets_the_caller(
    pair: Pair, tmp_path: Any, where: str
) -> None:
    """The caller lookup is skipped while only our JSON handler sees the record; a handler of
    any other kind placed after it (on the same logger or up the hierarchy) still receives the
    stdlib's record, caller and ``stacklevel`` included."""
    json_handler = at.JsonFileHandler(str(tmp_path / "out.jsonl"))
    ours = pair.ours.logger
    ours.removeHandler(pair.our_records)
    ours.addHandler(json_handler)
    parent = logging.Logger("parent", logging.DEBUG)
    ours.parent = parent
    (ours if where == "same logger" else parent).addHandler(pair.our_records)
    try:
        for call in (lambda log: log.info("plain"), helper_that_logs):
            assert_same_record(*pair.both(call))
    finally:
        json_handler.close()
    assert len((tmp_path / "out.jsonl").read_bytes().splitlines()) == 2


def test_a_record_only_our_json_handler_sees_skips_the_lookup(
    pair: Pair, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only our JSON handlers (their own formatter, no filter; two, so that a record is
    made), the record keeps the stdlib's "unknown caller" values: the lookup, which nothing
    would read, is not paid for."""
    seen: list[tuple[str, int, str]] = []
    emit = at.JsonStreamHandler.emit

    def spy(self: at.JsonStreamHandler, record: logging.LogRecord) -> None:
        seen.append((record.pathname, record.lineno, record.funcName))
        emit(self, record)

    monkeypatch.setattr(at.JsonStreamHandler, "emit", spy)
    ours = pair.ours.logger
    ours.removeHandler(pair.our_records)
    ours.addHandler(at.JsonStreamHandler(io.StringIO()))
    ours.addHandler(at.JsonStreamHandler(io.StringIO()))
    pair.ours.info("plain")
    assert seen == [("(unknown file)", 0, "(unknown function)")] * 2


def test_a_line_only_our_json_file_handler_sees_is_made_without_a_record(
    pair: Pair, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only our JSON file handler, no record is made at all (the fast path): emit is not
    called, and the line is in the file."""
    seen: list[logging.LogRecord] = []
    emit = at.JsonFileHandler.emit
    monkeypatch.setattr(
        at.JsonFileHandler, "emit", lambda self, record: (seen.append(record), emit(self, record))
    )
    path = tmp_path / "out.jsonl"
    handler = at.JsonFileHandler(str(path))
    ours = pair.ours.logger
    ours.removeHandler(pair.our_records)
    ours.addHandler(handler)
    try:
        pair.ours.info("plain")
    finally:
        handler.close()
    assert seen == []
    assert [json.loads(line)["message"] for line in path.read_text().splitlines()] == ["plain"]


@pytest.mark.parametrize("kind", ["file", "stream"])
def test_our_json_handler_with_another_formatter_or_a_filter_sees_the_caller(
    pair: Pair, tmp_path: Any, kind: str
) -> None:
    """Our JSON handlers given a formatter of another kind, or a filter, see the caller the
    stdlib would give: the lookup happens before either reads the record."""
    seen: list[tuple[str, int, str]] = []

    def spy(record: logging.LogRecord) -> bool:
        seen.append((record.filename, record.lineno, record.funcName))
        return True

    buffer = io.StringIO()
    handler: logging.Handler = (
        at.JsonFileHandler(str(tmp_path / "out.log"))
        if kind == "file"
        else at.JsonStreamHandler(buffer)
    )
    handler.setFormatter(logging.Formatter("%(filename)s:%(lineno)d %(funcName)s %(message)s"))
    handler.addFilter(spy)
    ours = pair.ours.logger
    ours.removeHandler(pair.our_records)
    ours.addHandler(handler)
    try:
        line = sys._getframe().f_lineno + 1
        pair.ours.info("plain")
    finally:
        handler.close()
    text = (tmp_path / "out.log").read_text() if kind == "file" else buffer.getvalue()
    name = "test_our_json_handler_with_another_formatter_or_a_filter_sees_the_caller"
    assert text == f"test_record_parity.py:{line} {name} plain\n"
    assert seen == [("test_record_parity.py", line, name)]
