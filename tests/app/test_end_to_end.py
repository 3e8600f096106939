"""End to end: a real uvicorn server and a real Celery worker process, one JSON log file.

Each backend (the embedded broker with SQLite; Redis with PostgreSQL, required in CI) starts the
stack once for the module (:class:`app.stack.Stack`, as ``make demo`` does): a prefork worker with
two pool processes, so two users' backtests really run at once. Every test then acts as users over
HTTP and reads the lines both processes appended to the file.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, text

from app.auth import mint_dev_token
from app.db.services import StrategiesService
from app.db.session import Database, create_db_engine
from app.settings import Settings
from app.stack import Stack
from tests.app.e2e.flows import CONTEXTLESS_LOGGERS, User, cid, events, of, orphans, read_lines
from tests.conftest import require_service

PLANTED_DB_PASSWORD = "pg-pw-planted-5d1e"
PLANTED_EXCHANGE_KEY = "exkey-planted-93f1c2"
PLANTED_EXCHANGE_SECRET = "exsecret-planted-77ab04"
#: Loggers of the worker's side of a backtest: all their lines carry the backtest's id.
WORKER_LOGGERS = ("agent_tracing.celery", "agent_tracing.freqtrade", "app.util.ft", "app.tasks")
#: Lines of the request itself, written before authentication or after the handler's bindings.
REQUEST_EDGES = {"http.request.start", "http.request.end", "auth.success", "auth.failed"}
#: A strategy that parses and has its methods, and fails when freqtrade runs it.
BAD_STRATEGY = """
from pandas import DataFrame
from freqtrade.strategy import IStrategy


class BrokenStrategy(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "5m"
    minimal_roi = {"0": 0.04}
    stoploss = -0.1

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["signal"] = dataframe["no_such_column"] * 2
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe
"""


@dataclass
class Running:
    """A started stack and how to reach its database from the test."""

    stack: Stack
    backend: str
    database_url: str

    def user(self, name: str) -> User:
        """A new user of this stack (unique per backend, so flows never share a user)."""
        return User(self.stack.base_url, f"{name}_{uuid.uuid4().hex[:6]}", self.stack.data_dir)

    def lines(self) -> list[dict[str, Any]]:
        """Every JSON line both processes wrote so far."""
        return read_lines(self.stack.log_file)

    def text(self) -> str:
        """The JSON file as text (for secret checks)."""
        return self.stack.log_file.read_text()

    def wait_for(self, correlation_id: str, event: str, timeout: float = 20.0) -> None:
        """Wait until the line ``event`` of the operation is written (the worker's last lines)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if event in events(of(self.lines(), correlation_id)):
                return
            time.sleep(0.2)
        raise AssertionError(f"no {event} line for {correlation_id}")


@pytest.fixture(scope="module", params=["embedded-sqlite", "redis-postgresql"])
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """The API and a worker on one backend, started once for the module."""
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(backend)
    env = {
        "EXCHANGE_KEY": PLANTED_EXCHANGE_KEY,
        "EXCHANGE_SECRET": PLANTED_EXCHANGE_SECRET,
        "CELERY_TASK_DEFAULT_QUEUE": f"e2e-{uuid.uuid4().hex[:8]}",
        "DATABASE_URL": "",
        "CELERY_BROKER_URL": "",
        "CELERY_RESULT_BACKEND": "",
        "LOG_LEVEL": "INFO",
    }
    schema = None
    admin = None
    if backend == "redis-postgresql":
        require_service("Redis", "127.0.0.1", 6379)
        require_service("PostgreSQL", "127.0.0.1", 5432)
        schema = f"at_e2e_{uuid.uuid4().hex[:10]}"
        admin = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        # PostgreSQL trusts local connections here: the password is planted to prove it is
        # never written, not needed to connect.
        env["DATABASE_URL"] = (
            f"postgresql+psycopg://postgres:{PLANTED_DB_PASSWORD}@127.0.0.1:5432/test"
            f"?options=-csearch_path%3D{schema}"
        )
        env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/0"
    database_url = env["DATABASE_URL"] or f"sqlite:///{data_dir / 'gentrade.db'}"
    console = (data_dir / "console.log").open("w")
    stack = Stack(
        data_dir,
        data_dir / "logs" / "e2e.jsonl",
        env=env,
        worker_pool="prefork",
        concurrency=2,
        console=console,
        start_timeout=90,
    )
    try:
        with stack:
            yield Running(stack, backend, database_url)
    finally:
        console.close()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _flow(user: User, prompt: str) -> dict[str, Any]:
    created = user.create_strategy(prompt)
    assert created.status_code == 201, created.text
    strategy_id = created.json()["id"]
    read = user.call("GET", f"/strategies/{strategy_id}")
    started, status = user.backtest(strategy_id)
    return {
        "create": created,
        "read": read,
        "start": started,
        "status": status,
        "strategy_id": strategy_id,
        "backtest_id": started.json()["id"],
    }


def _check_ids(lines: list[dict[str, Any]], user: User, strategy_id: int) -> None:
    for line in lines:
        if line["event"] != "http.request.start":
            assert user.user_id == line["user_id"], line
        if line["event"] not in REQUEST_EDGES:
            assert line["strategy_id"] in (strategy_id, None), line


def _span_of(lines: list[dict[str, Any]], event: str) -> str:
    return str(next(line["span_id"] for line in lines if line["event"] == event))


def _why(lines: list[dict[str, Any]], flow: dict[str, Any]) -> str:
    """What a failed backtest recorded, with its flow's warning and error lines."""
    bad = [line for line in of(lines, cid(flow["start"])) if line["level"] in ("WARNING", "ERROR")]
    return f"{flow['status']!r}\n" + "\n".join(repr(line) for line in bad)


def _check_tree(lines: list[dict[str, Any]]) -> None:
    assert orphans(lines) == []
    roots = {line["span_id"] for line in lines if line["parent_span_id"] is None}
    assert len(roots) == 1, roots  # the request's span; every other span hangs below it


def test_two_concurrent_flows_carry_their_own_ids_in_one_tree(running: Running) -> None:
    """Two users create and backtest at once: every line of each flow, web and worker, carries
    its request's id and the user's ids, spans form one tree, and no line of one is in the other."""
    alice, bob = running.user("alice"), running.user("bob")
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(_flow, alice, "An EMA crossover 12/26 on 5m candles"),
            pool.submit(_flow, bob, "An SMA crossover 10/30 on 5m candles"),
        ]
        flows = [future.result() for future in futures]
    for flow in flows:
        running.wait_for(cid(flow["start"]), "task.end")
    lines = running.lines()
    for user, flow in zip((alice, bob), flows, strict=True):
        assert flow["status"]["status"] == "finished", _why(lines, flow)
        assert isinstance(flow["status"]["result"]["total_trades"], int)
        assert flow["read"].status_code == 200
        sid, bid = flow["strategy_id"], flow["backtest_id"]

        created = of(lines, cid(flow["create"]))
        assert {"strategy.created", "strategy.code_saved", "agent.graph.start", "agent.llm.end",
                "agent.tool.end", "db.query", "db.transaction.commit", "http.request.end",
                "auth.success"} <= events(created)  # fmt: skip
        _check_ids(created, user, sid)
        assert all(line["strategy_id"] == sid for line in created if line["event"] and
                   line["event"].startswith("agent."))  # fmt: skip
        _check_tree(created)
        request_span = _span_of(created, "http.request.start")
        graphs = [line for line in created if line["event"] == "agent.graph.start"]
        assert [request_span, request_span] == [line["parent_span_id"] for line in graphs]

        started = of(lines, cid(flow["start"]))
        assert {"backtest.created", "backtest.queued", "task.published", "task.start",
                "backtest.started", "ft.backtest.start", "freqtrade.command.start",
                "freqtrade.command.end", "ft.exchange.request", "backtest.finished",
                "task.end", "db.query"} <= events(started)  # fmt: skip
        _check_ids(started, user, sid)
        assert all(line["backtest_id"] in (bid, None) for line in started)
        worker = [line for line in started if line["logger"].startswith(WORKER_LOGGERS)]
        assert len(worker) > 20
        assert all((sid, bid) == (line["strategy_id"], line["backtest_id"]) for line in worker)
        _check_tree(started)
        assert _span_of(started, "http.request.start") == next(
            line["parent_span_id"] for line in started if line["event"] == "task.start"
        )

        # Nothing of this flow anywhere else: its ids appear only under its own requests.
        mine = {cid(response) for response in user.responses}
        assert all(line["correlation_id"] in mine for line in lines
                   if line["user_id"] == user.user_id or line["strategy_id"] == sid
                   or line["backtest_id"] == bid)  # fmt: skip
    # Lines without a correlation id are the servers' own (start-up, Celery's "received").
    loose = [line for line in lines if line["correlation_id"] is None]
    assert all(line["logger"].startswith(CONTEXTLESS_LOGGERS) for line in loose), loose
    assert all(line["user_id"] is None and line["strategy_id"] is None for line in loose)


def test_failed_authentication_is_a_401_with_warning_lines(running: Running) -> None:
    """A missing, forged or expired token: 401, an ``auth.failed`` WARNING line with the request's
    id and reason, the request's end at WARNING, and the token in no line."""
    user = running.user("mallory")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = mint_dev_token(
        user.user_id, private_pem=other_key, issuer="https://dev.gentrade.local"
    )
    expired = mint_dev_token(user.user_id, data_dir=running.stack.data_dir, expires_in=-600)
    cases = {"missing_header": "", "bad_signature": forged, "expired": expired}
    answers = {
        reason: user.call("GET", "/strategies/1", token=token) for reason, token in cases.items()
    }
    lines = running.lines()
    for reason, response in answers.items():
        assert response.status_code == 401
        mine = of(lines, cid(response))
        failed = [line for line in mine if line["event"] == "auth.failed"]
        assert [("WARNING", reason)] == [(f["level"], f["data"]["reason"]) for f in failed]
        end = next(line for line in mine if line["event"] == "http.request.end")
        assert (end["level"], end["data"]["status_code"]) == ("WARNING", 401)
    text = running.text()
    assert forged not in text
    assert expired not in text


def test_failing_agent_tool_gives_error_lines_and_a_502(running: Running) -> None:
    """A prompt naming an indicator the agent's tool does not know: the tool fails, the strategy
    is marked failed, ERROR lines carry the request's id, user and strategy; the client gets 502."""
    user = running.user("carol")
    response = user.create_strategy("A MACD crossover on 5m candles")
    assert response.status_code == 502, response.text
    strategy_id = response.json()["detail"]["strategy_id"]
    lines = of(running.lines(), cid(response))
    errors = {line["event"]: line for line in lines if line["level"] == "ERROR"}
    assert {"agent.tool.error", "strategy.failed", "strategy.generation_failed",
            "http.request.end"} <= set(errors)  # fmt: skip
    assert errors["agent.tool.error"]["message"] == "tool lookup_indicator failed"
    assert errors["agent.tool.error"]["exception"]["type"] == "ValueError"
    assert errors["http.request.end"]["data"]["status_code"] == 502
    assert all(line["strategy_id"] == strategy_id for event, line in errors.items()
               if event != "http.request.end")  # fmt: skip
    _check_ids(lines, user, strategy_id)
    _check_tree(lines)
    assert user.call("GET", f"/strategies/{strategy_id}").json()["status"] == "failed"


def test_failing_backtest_fails_its_task_with_error_lines(running: Running) -> None:
    """Strategy code that freqtrade cannot run: the backtest and its task end failed, with ERROR
    lines carrying the request's id, user, strategy and backtest."""
    user = running.user("dave")
    created = user.create_strategy("An SMA crossover 10/30 on 5m candles")
    assert created.status_code == 201, created.text
    strategy_id = created.json()["id"]
    database = Database(
        create_db_engine(Settings(data_dir=running.stack.data_dir), url=running.database_url)
    )
    try:
        StrategiesService(database.sessions).save_code(strategy_id, BAD_STRATEGY, "BrokenStrategy")
    finally:
        database.dispose()
    started, status = user.backtest(strategy_id)
    assert status["status"] == "failed", status
    assert "no_such_column" in status["error"]
    running.wait_for(cid(started), "task.end")
    lines = of(running.lines(), cid(started))
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert {"backtest.failed", "task.failed", "task.end"} <= events(errors)
    backtest_id = started.json()["id"]
    assert all((user.user_id, strategy_id, backtest_id) ==
               (e["user_id"], e["strategy_id"], e["backtest_id"]) for e in errors)  # fmt: skip
    end = next(line for line in lines if line["event"] == "task.end")
    assert (end["data"]["status"], end["data"]["state"]) == ("error", "FAILURE")
    _check_tree(lines)


def test_no_secret_in_any_line(running: Running) -> None:
    """After every flow of the module: no token, database password or exchange key in the file."""
    user = running.user("erin")
    assert user.call("GET", "/health").status_code == 200
    assert user.call("GET", "/backtests/999999").status_code == 404
    text = running.text()
    for secret in (PLANTED_DB_PASSWORD, PLANTED_EXCHANGE_KEY, PLANTED_EXCHANGE_SECRET, user.token):
        assert secret not in text
    assert "Bearer ey" not in text
    assert "eyJ" not in text
    assert Path(running.stack.log_file).stat().st_size > 0
