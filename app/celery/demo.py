"""``python -m app.celery.demo``: a request publishes tasks, a worker on the embedded broker runs
them, and every line (both sides) shares one correlation id. No server needed.

Coloured lines on the console, JSON lines in ``logs/celery-demo.jsonl``; the broker's files live
in a temporary folder removed at the end.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from celery import chain
from celery.contrib.testing.worker import start_worker

import agent_tracing as at
import app.tasks.examples  # noqa: F401  (registers the example tasks)
from app.celery.factory import create_celery_app
from app.util.logger import setup_logger

LOG_FILE = Path("logs/celery-demo.jsonl")


def main() -> None:
    """Run the demo flow."""
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    LOG_FILE.unlink(missing_ok=True)
    options: dict[str, Any] = {"json_output": str(LOG_FILE), "levels": {"app": "DEBUG"}}
    at.configure_logging(**options)
    log = setup_logger("celery.demo", component="Demo")
    with tempfile.TemporaryDirectory(prefix="gentrade-celery-") as folder:
        celery_app = create_celery_app(data_dir=folder, logging_options=options)
        tasks = celery_app.tasks
        with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="INFO"):
            correlation_id = at.new_correlation_id()
            with (
                at.bind(correlation_id=correlation_id, user_id="user_123", strategy_id=456),
                at.span("POST /backtests", kind="http.request", logger="app.demo"),
            ):
                ok = tasks["examples.add"].delay(2, 3)
                failing = tasks["examples.fail"].delay("bad timerange")
                retried = tasks["examples.flaky"].delay(1)
                steps = chain(tasks["examples.add"].s(1, 1), tasks["examples.add"].s(40)).delay()
                secret = tasks["examples.login"].delay("alice", password="hunter2")
            log.info("Results", data={"add": ok.get(timeout=20), "chain": steps.get(timeout=20)})
            failing.get(timeout=20, propagate=False)
            retried.get(timeout=20)
            secret.get(timeout=20)
    at.flush_logging()
    print(f"\ncorrelation id: {correlation_id}")
    print(f"{len(LOG_FILE.read_text().splitlines())} JSON lines written to {LOG_FILE}")


if __name__ == "__main__":
    main()
