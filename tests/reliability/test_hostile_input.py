"""Hostile input through every public entry point: the logging API, the formatters, the
redactor, the middleware (real ASGI app), the LangChain callback, task arguments and freqtrade
config values. Nothing raises into the caller, every JSON line is one object with the full schema,
and no CR/LF/ANSI/Unicode separator can forge a line or recolour the console."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from starlette.testclient import TestClient

import agent_tracing as at
from agent_tracing.formatters import escape_controls
from agent_tracing.freqtrade import SecretScrubber, collect_secrets, command_parameters
from agent_tracing.langchain import LoggingCallback
from app.main import create_app
from tests.integrations.celery_support import instrumented, isolated_app, thread_worker
from tests.reliability.conftest import RAW_CONTROL, TwoViews, schema_line

#: Sequences an attacker would try: forged lines, forged JSON, ANSI colour and cursor codes, the
#: Unicode line separators, NUL, lone surrogates, a %-format and a huge string.
FORGERIES = [
    '\n{"level": "CRITICAL", "message": "forged", "correlation_id": "attacker"}',
    "\r\nINFO     app [00000000] - forged console line",
    "\x1b[31mred\x1b[0m \x1b[2J\x1b[H \x1b]0;title\x07",
    "\u2028forged\u2029forged\x85",
    "nul\x00byte\x7fdel\x9bcsi",
    "lone \ud800 surrogate",
    "%s %d %(name)s",
    "x" * 20_000,
]

hostile_text = st.one_of(st.sampled_from(FORGERIES), st.text(max_size=200))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
    st.binary(max_size=64),
)
payloads = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(hostile_text, st.integers()), inner, max_size=5),
    ),
    max_leaves=20,
)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Unprintable:
    """An object whose str() and repr() both raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def baseline_escapes(views: TwoViews, level: int) -> int:
    """How many ESC characters the console view itself puts on a plain line at ``level``."""
    views.clear()
    views.log.log(level, "plain")
    count = views.console.getvalue().count("\x1b")
    views.clear()
    return count


def assert_no_forgery(views: TwoViews, records: int, escapes: int | None = None) -> None:
    """``records`` JSON lines with the schema; console lines are one per record (tracebacks
    indented) with no raw control character, no colour but the view's own."""
    assert records == len(views.json_lines())
    console = views.console_lines()
    heads = [line for line in console if not line.startswith("    ")]
    assert records == len(heads)
    for line in console:
        assert RAW_CONTROL.search(line.replace("\x1b[", "")) is None, line
    if escapes is not None:
        assert escapes * records == views.console.getvalue().count("\x1b")


@SETTINGS
@given(
    message=hostile_text,
    event=st.one_of(st.none(), hostile_text),
    data=st.dictionaries(hostile_text, payloads, max_size=6),
    context=st.dictionaries(
        st.sampled_from(["correlation_id", "user_id", "strategy_id", "backtest_id", "component"]),
        st.one_of(hostile_text, st.integers()),
    ),
    level=st.sampled_from([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]),
)
def test_the_logging_api_never_raises_and_never_forges(
    two_views: TwoViews,
    message: str,
    event: str | None,
    data: dict[str, Any],
    context: dict[str, Any],
    level: int,
) -> None:
    """Any message, event, data and bound context: one schema line per call in JSON, one line
    on the console with only the view's own colour codes."""
    escapes = baseline_escapes(two_views, level)
    log = two_views.log
    with at.bind(**context):
        log.log(level, message, event=event, data=data)
        log.log(level, message, 1, 2)  # arguments that do not match the %-format
        log.log(level, "%s", message, data={"x": Unprintable(), message: {1, 2}})
    assert_no_forgery(two_views, 3, escapes)


@SETTINGS
@given(message=hostile_text, note=hostile_text)
def test_hostile_exception_messages_stay_inside_their_line(
    two_views: TwoViews, message: str, note: str
) -> None:
    """An exception whose message and notes forge lines: JSON keeps one line with an
    ``exception`` object; the console indents every traceback line and escapes controls."""
    two_views.clear()
    try:
        error = ValueError(message)
        error.add_note(note)
        raise error
    except ValueError:
        two_views.log.exception(message)
    assert_no_forgery(two_views, 1)
    (line,) = two_views.json_lines()
    assert line["exception"]["type"] == "ValueError"


@SETTINGS
@given(text=hostile_text, key=hostile_text)
def test_the_redactor_and_escaping_are_total(text: str, key: str) -> None:
    """The redactor and the escaper accept any string: redaction returns a string, escaping
    leaves no raw control character."""
    redactor = at.Redactor(extra_keys=[key] if key.strip() else [])
    assert isinstance(redactor.redact_text(text), str)
    assert isinstance(redactor.is_secret_key(key), bool)
    assert RAW_CONTROL.search(escape_controls(text)) is None


@SETTINGS
@given(value=payloads)
@example(value="lone \ud800 surrogate")
def test_the_formatters_are_total_on_foreign_records(value: Any) -> None:
    """A stdlib record built by any library (any msg object, args, extras) formats to one JSON
    object and one console line, never an exception."""
    record = logging.LogRecord("foreign", logging.INFO, __file__, 1, value, None, None)
    record.__dict__["data"] = value
    line = at.JsonFormatter().format(record)
    assert "\n" not in line
    schema_line(line)  # escaped lone surrogates are valid JSON that orjson refuses
    console = at.ConsoleFormatter(force_color=True).format(record)
    assert RAW_CONTROL.search(console.replace("\x1b[", "")) is None


header_value = st.one_of(
    st.sampled_from([f.encode("utf-8", "surrogatepass") for f in FORGERIES]),
    st.binary(max_size=300),
)


@pytest.fixture(scope="module")
def client() -> Any:
    """The real app (example routes) over ASGI, logging configured by the test."""
    with TestClient(create_app(setup_logging=False, example_routes=True)) as test_client:
        yield test_client


@SETTINGS
@given(
    correlation=header_value,
    agent=header_value,
    query=st.text(st.characters(exclude_categories=["Cs"]), max_size=200),  # HTTP has no surrogates
)
def test_hostile_headers_through_the_real_app(
    two_views: TwoViews, client: TestClient, correlation: bytes, agent: bytes, query: str
) -> None:
    """Hostile id, User-Agent and query through the middleware: the request is served, the id
    sent back is safe, and every line of the request carries it (nothing forged)."""
    two_views.clear()
    headers = [(b"x-correlation-id", correlation), (b"user-agent", agent)]
    response = client.get("/_examples/async", headers=headers, params={"q": query})  # type: ignore[arg-type]
    assert response.status_code == 200
    sent = response.headers["x-correlation-id"]
    assert RAW_CONTROL.search(sent) is None
    lines = [line for line in two_views.json_lines() if not line["logger"].startswith("httpx")]
    assert {sent} == {line["correlation_id"] for line in lines}
    assert [line["event"] for line in lines if line["event"] != "http.correlation_id.rejected"] == [
        "http.request.start",
        "example.async",
        "http.request.end",
    ]
    assert_no_forgery(two_views, len(two_views.json_lines()))


@SETTINGS
@given(prompt=hostile_text, answer=hostile_text, tool_input=hostile_text)
def test_hostile_prompts_answers_and_tool_inputs(
    two_views: TwoViews, prompt: str, answer: str, tool_input: str
) -> None:
    """A chain whose prompt, model answer and tool input are hostile logs whole schema lines and
    never breaks the run."""
    two_views.clear()

    @tool
    def lookup(query: str) -> str:
        """Echo the query."""
        return query

    model = GenericFakeChatModel(messages=iter([AIMessage(answer)]))

    def run(text: str) -> str:
        reply = model.invoke(text)
        return str(lookup.invoke({"query": tool_input})) + str(reply.content)

    callback = LoggingCallback(log_prompts=True, log_outputs=True)
    result = RunnableLambda(run).invoke(prompt, config={"callbacks": [callback]})
    assert tool_input + answer == result
    lines = two_views.json_lines()
    events = [line["event"] for line in lines]
    assert {"agent.llm.start", "agent.llm.end", "agent.tool.start", "agent.tool.end"} <= set(events)
    assert_no_forgery(two_views, len(lines))


@SETTINGS
@given(values=st.lists(hostile_text, min_size=1, max_size=6))
def test_freqtrade_command_lines_parse_and_log_whole(
    two_views: TwoViews, values: list[str]
) -> None:
    """Any freqtrade command line parses to parameters (never an exception) that log as one
    schema line."""
    two_views.clear()
    args = ["backtesting", "--strategy", *values, "--pairs", *values, "--timerange"]
    parameters = command_parameters(args)
    two_views.log.info("command", data={"parameters": parameters, "args": args})
    assert_no_forgery(two_views, 1)


config_value = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), min_size=6, max_size=60),
    st.sampled_from([f for f in FORGERIES if "\ud800" not in f]),
)


@SETTINGS
@given(key=config_value, secret=config_value, pair=config_value, note=config_value)
def test_hostile_freqtrade_config_values_are_collected_and_scrubbed(
    two_views: TwoViews, tmp_path_factory: pytest.TempPathFactory, key: str, secret: str,
    pair: str, note: str,
) -> None:  # fmt: skip
    """Any exchange key and secret in a config file (controls, quotes, forged lines) are found
    and scrubbed from any text freqtrade could print; other values pass through as one line."""
    two_views.clear()
    path = tmp_path_factory.mktemp("ft") / "config.json"
    config = {"exchange": {"name": "binance", "key": key, "secret": secret,
                           "pair_whitelist": [pair]}, "note": note}  # fmt: skip
    path.write_text(json.dumps(config))
    found = collect_secrets(config_paths=[path])
    assert {key, secret} <= found
    scrub = SecretScrubber(found)
    printed = scrub(f"config: {json.dumps(config)} key={key} {secret}")
    assert key not in printed
    assert secret not in printed
    two_views.log.info(printed, event="freqtrade.output", data={"line": printed})
    assert_no_forgery(two_views, 1)


def test_hostile_task_arguments_on_a_real_worker(two_views: TwoViews, tmp_path: Path) -> None:
    """Every forgery as a task argument, published and run by a worker: the task runs, and its
    publish, start and end lines stay whole, one console line each."""
    with instrumented():
        app = isolated_app(None, None, tmp_path / "celery")
        with thread_worker(app):
            results = [app.tasks["examples.context"].delay(text) for text in FORGERIES[:-1]]
            tags = [result.get(timeout=30)["tag"] for result in results]
    assert FORGERIES[:-1] == tags
    lines = two_views.json_lines()
    starts = [line for line in lines if line["event"] == "task.start"]
    assert len(FORGERIES) - 1 == len(starts)
    assert_no_forgery(two_views, len(lines))
