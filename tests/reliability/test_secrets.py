"""Planted secrets never reach a line of either view: request headers and query, ``data``, an
exception message, a prompt, a tool input, a task argument, a freqtrade config and a database URL.
Each secret is a distinct string; each test also proves the carrier was logged (so a missing line
cannot pass for a redacted one)."""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

import agent_tracing as at
from agent_tracing.freqtrade import run_freqtrade
from agent_tracing.langchain import LoggingCallback
from agent_tracing.sqlalchemy import instrument_engine, uninstrument_engine
from app.main import create_app
from tests.integrations.celery_support import instrumented, isolated_app, thread_worker
from tests.reliability.conftest import TwoViews


def assert_hidden(views: TwoViews, secrets: dict[str, str]) -> None:
    """No secret in either view, every line whole, and the marker shows where they were."""
    views.json_lines()
    everything = views.text()
    leaked = {name for name, value in secrets.items() if value in everything}
    assert set() == leaked
    assert at.REDACTED in views.json.getvalue()
    assert at.REDACTED in views.console.getvalue()


def test_header_query_data_and_exception_secrets_through_the_real_app(two_views: TwoViews) -> None:
    """Authorization, X-API-Key, Cookie, secret query parameters, a password in ``data`` and in an
    exception message raised by a handler: none reaches either view."""
    secrets = {
        "bearer": "hdrBearerToken9f8e7d6c5b4a",
        "api_key_header": "hdrApiKey4b5c6d7e8f",
        "cookie": "cookieSession0a1b2c3d",
        "query_key": "qryApiKey11223344",
        "query_token": "qryToken55667788",
        "data": "dataPassword-7x7x7x",
        "exception": "excPassword-9y9y9y",
        "url_password": "urlPassw0rd-5z5z",
    }
    app = create_app(setup_logging=False, example_routes=True)

    @app.get("/login")
    async def login() -> None:
        log = at.get_logger("app.login")
        log.info("login", data={"user": "alice", "password": secrets["data"], "nested": [
            {"db_password": secrets["data"]}]})  # fmt: skip
        raise ConnectionError(
            f"cannot reach postgresql://alice:{secrets['url_password']}@db:5432/app "
            f"with password={secrets['exception']}"
        )

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(
            "/login",
            params={"api_key": secrets["query_key"], "token": secrets["query_token"], "q": "btc"},
            headers={
                "Authorization": f"Bearer {secrets['bearer']}",
                "X-API-Key": secrets["api_key_header"],
                "Cookie": f"session={secrets['cookie']}",
            },
        )
    assert response.status_code == 500
    events = [line["event"] for line in two_views.json_lines()]
    assert {"http.request.start", "http.request.end"} <= set(events)
    assert any("exception" in line for line in two_views.json_lines())
    assert_hidden(two_views, secrets)


def test_prompt_and_tool_input_secrets(two_views: TwoViews) -> None:
    """A prompt and a model answer quoting keys, and a tool called with an ``api_key`` argument:
    the callback logs the prompt and the tool input with the values redacted."""
    secrets = {
        "prompt_key": "sk-promptKEY0123456789abcdef",
        "prompt_password": "promptPass-3k3k3k",
        "answer_token": "answerToken-8m8m8m",
        "tool_key": "toolApiKey-6n6n6n",
    }

    @tool
    def price(symbol: str, api_key: str) -> str:
        """Quote a symbol."""
        return f"{symbol} 42000"

    model = GenericFakeChatModel(
        messages=iter([AIMessage(f"use token={secrets['answer_token']} next time")])
    )

    def run(prompt: str) -> str:
        reply = model.invoke(prompt)
        quote = price.invoke({"symbol": "BTC", "api_key": secrets["tool_key"]})
        return f"{reply.content} {quote}"

    prompt = f"my key is {secrets['prompt_key']} and password: {secrets['prompt_password']}"
    callback = LoggingCallback(log_prompts=True, log_outputs=True)
    RunnableLambda(run).invoke(prompt, config={"callbacks": [callback]})
    events = {line["event"] for line in two_views.json_lines()}
    assert {"agent.llm.start", "agent.llm.end", "agent.tool.start"} <= events
    assert_hidden(two_views, secrets)


def test_task_argument_secrets_on_a_real_worker(two_views: TwoViews, tmp_path: Path) -> None:
    """``login(username, password, settings={"api_key": ...})`` published and run by a worker:
    the publish, start and end lines show neither value."""
    secrets = {"password": "taskPassword-2q2q2q", "api_key": "taskApiKey-4w4w4w"}
    with instrumented():
        app = isolated_app(None, None, tmp_path / "celery")
        with thread_worker(app):
            result = app.tasks["examples.login"].delay(
                "alice", secrets["password"], {"api_key": secrets["api_key"], "region": "eu"}
            )
            assert result.get(timeout=30) == "welcome alice"
    events = {line["event"] for line in two_views.json_lines()}
    assert {"task.published", "task.start", "task.end"} <= events
    assert_hidden(two_views, secrets)


def test_freqtrade_config_secrets_even_when_freqtrade_prints_them(
    two_views: TwoViews, tmp_path: Path
) -> None:
    """``freqtrade show-config --show-sensitive`` prints the whole config with its secrets: every
    relayed line has them replaced."""
    secrets = {
        "exchange_key": "ftExchangeKey-1a1a1a",
        "exchange_secret": "ftExchangeSecret-2b2b2b",
        "jwt": "ftJwtSecretKey-3c3c3c-0123456789abcdef",
        "api_password": "ftApiPassword-4d4d4d",
        "telegram_token": "ftTelegramToken-5e5e5e",
    }
    config = {
        "exchange": {
            "name": "binance",
            "key": secrets["exchange_key"],
            "secret": secrets["exchange_secret"],
            "pair_whitelist": ["BTC/USDT"],
        },
        "stake_currency": "USDT",
        "stake_amount": 10,
        "dry_run": True,
        "timeframe": "5m",
        "api_server": {
            "enabled": False,
            "listen_ip_address": "127.0.0.1",
            "listen_port": 8080,
            "username": "u",
            "jwt_secret_key": secrets["jwt"],
            "password": secrets["api_password"],
        },
        "telegram": {"enabled": False, "token": secrets["telegram_token"], "chat_id": "1"},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    args = ["show-config", "-c", str(path), "--show-sensitive", "--userdir", str(tmp_path)]
    result = run_freqtrade(args, timeout=120, cwd=str(tmp_path))
    assert result.ok, result.errors
    printed = [line["message"] for line in two_views.by_event("freqtrade.output")]
    assert '"secret": "[REDACTED]",' in printed  # the config was printed, its secrets hidden
    assert_hidden(two_views, secrets)
    assert not any(value in json.dumps(result.__dict__, default=str) for value in secrets.values())


def test_database_url_password(two_views: TwoViews, postgres_url: str) -> None:
    """An engine whose URL holds a password: its queries, a failed connection and a line that
    logs the full URL never show the password."""
    secret = "dbPassw0rd-6f6f6f"
    url = postgres_url.replace("postgres@", f"postgres:{secret}@")  # trust auth ignores it
    engine = create_engine(url)
    bad = create_engine(f"postgresql+psycopg://postgres:{secret}@127.0.0.1:1/test")
    instrument_engine(engine, logger="app.db")
    instrument_engine(bad, logger="app.db")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT :password AS p"), {"password": secret})
        try:
            bad.connect()
        except Exception as error:
            at.get_logger("app.db").exception("could not connect to %s", bad.url.render_as_string(
                hide_password=False), data={"error": str(error)})  # fmt: skip
    finally:
        uninstrument_engine(engine)
        uninstrument_engine(bad)
        engine.dispose()
        bad.dispose()
    events = {line["event"] for line in two_views.json_lines()}
    assert {"db.query", "db.connection.failed"} <= events
    assert_hidden(two_views, {"db": secret})
