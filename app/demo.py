"""``make demo`` (``python -m app.demo``): the whole GenTrade backend, one user session, its trace.

Starts the API under uvicorn and a Celery worker (see :class:`app.stack.Stack`) on embedded
defaults under a fresh ``.demo/`` data dir: SQLite, the filesystem broker, the exchange stand-in and
real freqtrade. Then plays a user: mint a development token, create a strategy from a prompt (the
agents draft and code it), backtest it, poll until done, read the result. The coloured lines of
both processes show as they happen; every JSON line of both goes to ``logs/demo.jsonl``. At the
end: the correlation id of each request, lines per component, errors, the backtest's result and
the command that opens the trace. Every process started is stopped, also on Ctrl-C or failure.

``CELERY_BROKER_URL=redis://127.0.0.1:6379/0`` (or ``amqp://guest:guest@127.0.0.1:5672//``) and
``DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test`` run it on those services.
"""

from __future__ import annotations

import collections
import json
import os
import shlex
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.stack import Stack

__all__ = ["DATA_DIR", "LOG_FILE", "PROMPT", "Session", "main", "view_command"]

DATA_DIR = Path(".demo")
LOG_FILE = Path("logs/demo.jsonl")
PROMPT = "An EMA crossover 12/26 on 5m candles for BTC and ETH"
USER = "user_demo"
POLL_TIMEOUT_S = 150.0


@dataclass
class Session:
    """A user of the API, recording the correlation id of each request it makes."""

    base_url: str
    token: str
    requests: list[tuple[str, int, str]] = field(default_factory=list)

    def call(
        self, method: str, path: str, correlation_id: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send one request with the user's token (and ``correlation_id`` when the client names
        the operation); remember the correlation id the API answered with."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        response = httpx.request(
            method, f"{self.base_url}{path}", headers=headers, timeout=60, **kwargs
        )
        cid = response.headers.get("X-Correlation-ID", "-")
        self.requests.append((f"{method} {path}", response.status_code, cid))
        print(f"  -> {method} {path} {response.status_code}  correlation id {cid}", flush=True)
        return response


def _play(stack: Stack) -> tuple[Session, dict[str, Any]]:
    from app.auth import mint_dev_token

    token = mint_dev_token(USER, data_dir=stack.data_dir)
    user = Session(stack.base_url, token)
    # "Create and backtest" is one action of the user: the client names it with one correlation
    # id, so its trace holds the agents, the SQL, the task and freqtrade. Reads get their own.
    action = str(uuid.uuid4())
    created = user.call("POST", "/strategies", action, json={"prompt": PROMPT})
    created.raise_for_status()
    strategy_id = created.json()["id"]
    user.call("GET", f"/strategies/{strategy_id}").raise_for_status()
    started = user.call("POST", f"/strategies/{strategy_id}/backtests", action, json={})
    started.raise_for_status()
    backtest_id = started.json()["id"]
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        stack.check()
        time.sleep(2)
        backtest: dict[str, Any] = user.call("GET", f"/backtests/{backtest_id}").json()
        if backtest["status"] in ("finished", "failed"):
            return user, backtest
        if time.monotonic() > deadline:
            raise TimeoutError(f"backtest {backtest_id} still {backtest['status']}")


def view_command(log_file: Path, correlation_id: str) -> str:
    """The shell command that opens ``correlation_id``'s trace in ``log_file``.

    A new shell has no virtual environment on PATH, so the command names the ``agent-tracing``
    script beside this interpreter (relative to the current directory when it is below it), or
    runs the CLI module with this interpreter when there is no script. Every part is quoted: the
    correlation id is what the server answered with.
    """
    python = Path(sys.executable)  # not resolved: a venv's python is a symlink out of the venv
    script = python.parent / "agent-tracing"
    program = [str(script)] if script.is_file() else [str(python), "-m", "agent_tracing.cli"]
    relative = os.path.relpath(program[0])
    if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
        program[0] = os.path.join(os.curdir, relative) if os.sep not in relative else relative
    args = [*program, "view", str(log_file), "--correlation-id", correlation_id]
    return shlex.join(args)


def summarize(log_file: Path, user: Session, backtest: dict[str, Any]) -> str:
    """The end-of-demo report: requests, lines per component, errors, result, how to view."""
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    per_component = collections.Counter(str(line.get("component")) for line in lines)
    errors = [line for line in lines if line["level"] in ("ERROR", "CRITICAL")]
    backtest_cid = next(cid for what, _, cid in user.requests if what.endswith("/backtests"))
    out = ["", "=== GenTrade demo summary ===", "requests (correlation ids):"]
    out += [f"  {status} {what:<34} {cid}" for what, status, cid in user.requests]
    out.append(f"{len(lines)} JSON lines in {log_file}; per component:")
    out += [f"  {count:>5}  {name}" for name, count in per_component.most_common()]
    out.append(f"errors: {len(errors)}")
    out += [f"  {e['component']}: {e['message']}" for e in errors[:10]]
    out.append(f"backtest {backtest['id']}: {backtest['status']}")
    if backtest["status"] == "finished":
        out += [f"  {key}: {value}" for key, value in (backtest["result"] or {}).items()]
    else:
        out.append(f"  error: {backtest['error']}")
    out.append("open the trace of 'create and backtest' (HTTP, agents, SQL, task, freqtrade):")
    out.append(f"  {view_command(log_file, backtest_cid)}")
    return "\n".join(out)


def main() -> int:
    """Run the demo; exit 0 when the backtest finished."""
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    LOG_FILE.unlink(missing_ok=True)
    print(f"Starting the API and a worker (data in {DATA_DIR}/, JSON lines in {LOG_FILE})")
    started = time.monotonic()
    try:
        # DEBUG in the JSON file (every SQL statement, every service span); INFO on the console.
        env = {"LOG_LEVEL": os.environ.get("LOG_LEVEL", "DEBUG")}
        with Stack(DATA_DIR, LOG_FILE, env=env, color=sys.stderr.isatty()) as stack:
            print(f"API on {stack.base_url}; playing a user session", flush=True)
            user, backtest = _play(stack)
            time.sleep(1)  # the worker's last lines of the task
    except KeyboardInterrupt:
        print("\ninterrupted: every process stopped", file=sys.stderr)
        return 130
    print(summarize(LOG_FILE, user, backtest))
    print(f"demo took {time.monotonic() - started:.0f} s")
    return 0 if backtest["status"] == "finished" else 1


if __name__ == "__main__":
    raise SystemExit(main())
