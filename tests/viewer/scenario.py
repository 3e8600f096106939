"""A real operation across two processes, logged through the core: the viewer's test input.

``python -m tests.viewer.scenario OUT_DIR`` writes ``OUT_DIR/api.jsonl`` (an HTTP request whose
handler runs an agent with nodes, decisions, LLM and tool calls, and SQL queries) and starts a
second process that writes ``OUT_DIR/worker.jsonl`` (a task under the request's span that runs a
Freqtrade command). Both use ``configure_logging(json_output=...)``, spans and loggers, exactly as
the integrations do; the ids cross the process boundary through the command line, as task headers
carry them. Prints the correlation id.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import agent_tracing as at


def _sql(log: at.BoundLogger, statement: str, ms: float) -> None:
    time.sleep(ms / 1000)
    log.debug(statement, event="db.query", data={"statement": statement, "duration_ms": ms})


def run_api(out: Path, worker: bool = True) -> str:
    """Log the API side of the operation into ``out/api.jsonl``; return the correlation id."""
    at.configure_logging(
        json_output=str(out / "api.jsonl"), console=False, json_level="DEBUG", level="DEBUG"
    )
    http = at.get_logger("app.api.routers.backtests")
    db = at.get_logger("sqlalchemy.engine.Engine")
    agent = at.get_logger("app.agents.strategy_agent", component="StrategyAgent")
    correlation_id = at.new_correlation_id()
    with at.bind(correlation_id=correlation_id, user_id="user_123"):
        with at.span(
            "POST /strategies/456/backtests",
            kind="http.request",
            logger=http,
            method="POST",
            path="/strategies/456/backtests",
        ) as request:
            _sql(db, "SELECT users.id FROM users WHERE users.id = %(id)s", 1.5)
            http.info(
                "Request authenticated",
                event="auth.ok",
                data={"authorization": "Bearer eyJhbGciOi.secret.part", "scheme": "bearer"},
            )
            with at.span("strategy_agent", kind="agent.run", logger=agent, strategy_id=456):
                agent.info("Graph started", event="agent.graph.start", data={"nodes": 3})
                with at.span("plan", kind="agent.node", logger=agent):
                    with at.span("gpt-4o-mini", kind="agent.llm", logger=agent) as llm:
                        time.sleep(0.02)
                        llm.set(
                            usage={
                                "prompt_tokens": 412,
                                "completion_tokens": 58,
                                "total_tokens": 470,
                            }
                        )
                    agent.info(
                        "Decided to fetch market data",
                        event="agent.decision",
                        data={"decision": "call_tool", "tool": "fetch_ohlcv"},
                    )
                with at.span("act", kind="agent.node", logger=agent):
                    with at.span("fetch_ohlcv", kind="agent.tool", logger=agent, pair="BTC/USDT"):
                        time.sleep(0.01)
                    try:
                        with at.span("risk_check", kind="agent.tool", logger=agent):
                            raise ValueError("max drawdown 0.42 above limit 0.25")
                    except ValueError:
                        agent.warning(
                            "Tool failed, falling back to defaults", event="agent.tool.fallback"
                        )
                with at.span("finish", kind="agent.node", logger=agent):
                    agent.info(
                        "Backtest requested",
                        event="agent.decision",
                        data={"decision": "backtest", "timerange": "20240101-20240128"},
                    )
            _sql(db, "INSERT INTO backtests (strategy_id, status) VALUES (%(s)s, %(st)s)", 2.0)
            _sql(db, "SELECT backtests.id FROM backtests WHERE backtests.strategy_id = %(s)s", 1.0)
            if worker:
                # The worker runs in its own process with the ids a task header would carry.
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "tests.viewer.scenario",
                        str(out),
                        "--worker",
                        correlation_id,
                        str(request.span_id),
                    ],
                    check=True,
                )
            http.info("Backtest queued", event="backtest.queued", data={"backtest_id": 789})
            request.set(status_code=202)
    at.shutdown_logging()
    return correlation_id


def run_worker(out: Path, correlation_id: str, parent_span_id: str) -> None:
    """Log the worker side into ``out/worker.jsonl``: a task running a Freqtrade backtest."""
    at.configure_logging(
        json_output=str(out / "worker.jsonl"), console=False, json_level="DEBUG", level="DEBUG"
    )
    worker = at.get_logger("app.tasks.backtests", component="BacktestTask")
    ft = at.get_logger("app.util.ft", component="FTBacktesting")
    db = at.get_logger("sqlalchemy.engine.Engine")
    with at.bind(
        correlation_id=correlation_id, user_id="user_123", strategy_id=456, backtest_id=789
    ):
        with at.span(
            "app.tasks.run_backtest",
            kind="task",
            logger=worker,
            parent_span_id=parent_span_id,
            task_id="c0ffee00-0000-4000-8000-000000000001",
        ):
            worker.info("Task received", event="task.received", data={"retries": 0})
            _sql(db, "UPDATE backtests SET status=%(st)s WHERE backtests.id = %(id)s", 1.2)
            with at.span("backtesting", kind="freqtrade.command", logger=ft) as command:
                ft.info("Loading data", data={"pairs": ["BTC/USDT", "ETH/USDT"]})
                ft.warning("Data download retry", data={"attempt": 2})
                time.sleep(0.03)
                command.set(
                    exit_code=0,
                    output_files=[
                        "user_data/backtest_results/backtest-result-2024-01-28.json",
                        "user_data/backtest_results/backtest-result-2024-01-28.meta.json",
                    ],
                )
            _sql(db, "UPDATE backtests SET status=%(st)s WHERE backtests.id = %(id)s", 0.8)
    at.shutdown_logging()


def main(argv: list[str]) -> None:
    """Entry point: ``OUT_DIR`` for the whole operation, or ``OUT_DIR --worker CID PARENT``."""
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    if len(argv) > 1 and argv[1] == "--worker":
        run_worker(out, argv[2], argv[3])
        return
    for name in ("api.jsonl", "worker.jsonl"):
        (out / name).unlink(missing_ok=True)
    print(run_api(out))


if __name__ == "__main__":
    main(sys.argv[1:])
