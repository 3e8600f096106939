"""The lnav format definition, installed and queried with Debian's lnav over a real log."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import ROOT
from tests.viewer.conftest import LoggedOperation

FORMAT = ROOT / "contrib" / "lnav" / "agent_tracing.json"


def _lnav(lnav: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Its own HOME: installing the format never touches the user's lnav configuration.
    env = {**os.environ, "HOME": str(home), "TZ": "UTC", "TERM": "dumb"}
    return subprocess.run(
        [lnav, *args], env=env, cwd=home, capture_output=True, text=True, timeout=60, check=False
    )


def _query(lnav: str, home: Path, sql: str, files: list[str]) -> list[dict[str, Any]]:
    done = _lnav(lnav, home, "-n", "-c", f";{sql}", "-c", ":write-json-to -", *files)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_format_file_is_valid_json_for_our_schema() -> None:
    """The definition names every schema key, with the ids as identifiers."""
    definition = json.loads(FORMAT.read_text())["agent_tracing_log"]
    assert (definition["timestamp-field"], definition["level-field"]) == ("timestamp", "level")
    assert (definition["body-field"], definition["opid-field"]) == ("message", "correlation_id")
    identifiers = {k for k, v in definition["value"].items() if v.get("identifier")}
    assert {"correlation_id", "user_id", "strategy_id", "backtest_id"} <= identifiers


def test_lnav_reads_our_logs(lnav: str, live_operation: LoggedOperation, tmp_path: Path) -> None:
    """lnav installs the format and answers SQL over both processes' files: times, levels, ids."""
    installed = _lnav(lnav, tmp_path, "-i", str(FORMAT))
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / ".lnav" / "formats" / "installed" / "agent_tracing_log.json").exists()
    lines = [
        orjson.loads(raw)
        for path in live_operation.files
        for raw in Path(path).read_bytes().splitlines()
    ]
    cid = live_operation.correlation_id
    rows = _query(
        lnav,
        tmp_path,
        "SELECT log_time, log_level, correlation_id, user_id, strategy_id, backtest_id, event,"
        f" log_body FROM agent_tracing_log WHERE correlation_id = '{cid}' ORDER BY log_time",
        live_operation.files,
    )
    assert len(lines) == len(rows)
    expected = sorted(
        (line["timestamp"].replace("T", " ").rstrip("Z"), line["level"].lower(), line["message"])
        for line in lines
    )
    assert expected == sorted((r["log_time"], r["log_level"], r["log_body"]) for r in rows)
    freqtrade = [r for r in rows if r["event"] == "freqtrade.command.end"]
    # SQLite types each value by itself: ids that look like numbers may come back as either.
    assert [
        (str(r["user_id"]), str(r["strategy_id"]), str(r["backtest_id"])) for r in freqtrade
    ] == [("user_123", "456", "789")]
    problems = _query(
        lnav,
        tmp_path,
        "SELECT log_level, event FROM agent_tracing_log"
        f" WHERE correlation_id = '{cid}' AND log_level >= 'warning' ORDER BY log_time",
        live_operation.files,
    )
    assert problems == [
        {"log_level": "error", "event": "agent.tool.end"},
        {"log_level": "warning", "event": "agent.tool.fallback"},
        {"log_level": "warning", "event": None},
    ]
