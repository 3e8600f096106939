"""``make demo``'s closing hint: the command it prints works when pasted into a fresh shell."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from app import demo
from tests.conftest import ROOT

# The committed log of a ``make demo`` run and its "create and backtest" operation.
DEMO_LOG = Path("tests/viewer/fixtures/demo.jsonl")
OPERATION = "423c5eaf-24f0-4cd5-8206-2e878e45bc49"
# A shell as a new terminal opens it: no virtual environment on PATH, nothing of ours imported.
FRESH_SHELL_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")}


def _hint(log_file: Path, correlation_id: str) -> str:
    user = demo.Session("http://127.0.0.1:1", "token")
    user.requests = [("POST /strategies/7/backtests", 202, correlation_id)]
    backtest = {"id": 9, "status": "finished", "result": {"profit": 1}}
    return demo.summarize(log_file, user, backtest).splitlines()[-1].strip()


def test_hint_runs_in_a_fresh_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """The printed command, run by ``sh`` from the repo root without the venv on PATH, prints
    the operation's tree."""
    monkeypatch.chdir(ROOT)
    command = _hint(DEMO_LOG, OPERATION)
    done = subprocess.run(
        ["sh", "-c", command],
        cwd=ROOT,
        env=FRESH_SHELL_ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    expected = (0, "")
    assert expected == (done.returncode, done.stderr)
    assert f"operation {OPERATION}" in done.stdout
    assert "└─ ✓ HTTP POST /strategies" in done.stdout


def test_hint_names_the_venv_script_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the interpreter in ``./.venv/bin`` (a fresh clone's ``make demo``), the hint runs
    ``.venv/bin/agent-tracing``."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "agent-tracing").touch(mode=0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.chdir(tmp_path)
    expected = f".venv/bin/agent-tracing view logs/demo.jsonl --correlation-id {OPERATION}"
    assert expected == demo.view_command(Path("logs/demo.jsonl"), OPERATION)


def test_hint_without_the_script_runs_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an ``agent-tracing`` script beside the interpreter, the hint runs the CLI module
    with that interpreter."""
    python = tmp_path / "my env" / "python"
    monkeypatch.setattr(sys, "executable", str(python))
    monkeypatch.chdir(ROOT)
    expected = f"'{python}' -m agent_tracing.cli view logs/demo.jsonl --correlation-id x"
    assert expected == demo.view_command(Path("logs/demo.jsonl"), "x")


def test_hostile_correlation_id_is_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A correlation id the server answered with cannot run anything when the hint is pasted."""
    monkeypatch.chdir(ROOT)
    marker = tmp_path / "ran"
    hostile = f"x; touch {marker}; $(touch {marker})"
    command = demo.view_command(DEMO_LOG, hostile)
    subprocess.run(["sh", "-c", command], cwd=ROOT, env=FRESH_SHELL_ENV, timeout=60, check=False)
    assert [hostile] == shlex.split(command)[-1:]
    assert not marker.exists()
