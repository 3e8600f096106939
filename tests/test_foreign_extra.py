"""``extra=`` on a plain stdlib logger lands in the schema as it does through ``get_logger``."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

import agent_tracing as at
from agent_tracing.testing import CapturedEvents

SEED_EXTRA = {"user_id": "u9", "data": {"email_domain": "x.org"}, "k": 1}


def _fields(line: dict[str, Any]) -> dict[str, Any]:
    keys = ("user_id", "strategy_id", "backtest_id", "correlation_id", "data", "event", "span_id")
    return {key: line[key] for key in keys}


def test_seed_extra_on_a_plain_logger_is_the_same_line_as_through_get_logger(
    log_events: CapturedEvents,
) -> None:
    """The seed's extra={"user_id", "data", ...} gives the same fields from either logger."""
    logging.getLogger("app.users").info("User created", extra=SEED_EXTRA)
    at.get_logger("app.users").info("User created", extra=SEED_EXTRA)
    plain, ours = log_events.raw
    assert {
        "user_id": plain["user_id"],
        "data": plain["data"],
    } == {"user_id": "u9", "data": {"k": 1, "email_domain": "x.org"}}
    assert _fields(ours) == _fields(plain)


def test_every_context_field_span_field_and_event_is_read_from_a_plain_logger(
    log_events: CapturedEvents,
) -> None:
    """Context fields, span fields and a text event in extra reach the top level."""
    extra = {
        "correlation_id": "req-1",
        "strategy_id": 4,
        "backtest_id": 5,
        "component": "Users",
        "span_id": "00000000000000aa",
        "event": "user.created",
    }
    with at.bind(correlation_id="bound", user_id="bound-user"):
        logging.getLogger("app.users").info("created", extra=extra)
        at.get_logger("app.users").info("created", extra=extra)
    plain, ours = log_events.raw
    expected = {**extra, "user_id": "bound-user", "data": None}
    assert expected == {key: plain[key] for key in expected}
    assert {key: ours[key] for key in expected} == {key: plain[key] for key in expected}


def test_stdlib_attributes_and_third_party_noise_are_not_data(log_events: CapturedEvents) -> None:
    """A plain record's own attributes, uvicorn's color_message and private names stay out."""
    record_logger = logging.getLogger("uvicorn.error")
    record_logger.info(
        "Started server process [%d]",
        42,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]", "_private": 1},
    )
    (line,) = log_events.raw
    assert (line["data"], line["message"]) == (None, "Started server process [42]")


def test_a_data_that_repeats_the_message_arguments_is_not_repeated(
    log_events: CapturedEvents,
) -> None:
    """Celery passes its %-format mapping again as extra={"data": ...}: the message has it."""
    context = {"name": "t", "id": "x"}
    logging.getLogger("celery.app.trace").info(
        "Task %(name)s[%(id)s] succeeded", context, extra={"data": context}
    )
    (line,) = log_events.raw
    assert (line["data"], line["message"]) == (None, "Task t[x] succeeded")


def test_a_non_mapping_data_and_a_non_text_event_are_kept_in_data(
    log_events: CapturedEvents,
) -> None:
    """extra={"data": 5, "event": 7} keeps both values in data, as BoundLogger does."""
    logging.getLogger("lib").info("x", extra={"data": 5, "event": 7})
    at.get_logger("lib").info("x", extra={"data": 5, "event": 7})
    plain, ours = log_events.raw
    assert (plain["data"], plain["event"]) == ({"data": 5, "event": 7}, None)
    assert (ours["data"], ours["event"]) == (plain["data"], plain["event"])


def test_foreign_extra_is_redacted(log_events: CapturedEvents) -> None:
    """A secret passed in a plain logger's extra is redacted like one in data=."""
    logging.getLogger("lib").info("login", extra={"password": "hunter2", "data": {"token": "t"}})
    (line,) = log_events.raw
    assert line["data"] == {"password": "[REDACTED]", "token": "[REDACTED]"}


def test_queue_mode_writes_foreign_extra_as_it_was_at_the_call(tmp_path: Path) -> None:
    """In queue mode the extra data is read at the call: later changes do not reach the line."""
    out = tmp_path / "q.jsonl"
    at.configure_logging(console=False, json_output=str(out), queue_mode=True)
    try:
        data = {"n": 1}
        context = {"name": "t"}
        logging.getLogger("lib").warning("x", extra={"user_id": "u1", "data": data, "k": [1]})
        data["n"] = 2
        logging.getLogger("celery").warning("T %(name)s", context, extra={"data": context})
        at.flush_logging()
    finally:
        at.shutdown_logging()
    first, second = (orjson.loads(raw) for raw in out.read_bytes().splitlines())
    assert (first["user_id"], first["data"]) == ("u1", {"k": [1], "n": 1})
    assert (second["data"], second["message"]) == (None, "T t")


def test_hostile_extra_keys_never_break_the_line(log_events: CapturedEvents) -> None:
    """A non-text key, a huge event and a data mapping whose iteration raises are all written."""

    class Raising(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise RuntimeError("no")

        def __iter__(self) -> Iterator[str]:
            raise RuntimeError("no")

        def __len__(self) -> int:
            return 1

    logging.getLogger("lib").info("a", extra={1: "one", "event": "e" * 100_000})  # type: ignore[dict-item]
    logging.getLogger("lib").info("b", extra={"data": Raising()})
    first, second = log_events.raw
    assert (first["data"], second["message"]) == ({"1": "one"}, "b")
    assert len(first["event"]) < 10_000
    assert second["data"]["_unreadable_data"].endswith("Raising")


def test_a_logger_adapter_extra_is_read(log_events: CapturedEvents) -> None:
    """logging.LoggerAdapter(logger, {"user_id": ...}) puts the user id at the top level."""
    adapter = logging.LoggerAdapter(logging.getLogger("lib"), {"user_id": "u5", "tenant": "t"})
    adapter.info("hello")
    (line,) = log_events.raw
    assert (line["user_id"], line["data"]) == ("u5", {"tenant": "t"})
