"""Load: the real app under uvicorn and a prefork Celery worker over Redis, with every line
checked for its correlation id and none lost. The ``stress`` runs are the issue's sizes; the quick
ones keep the same checks at a size the normal suite can afford."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.conftest import file_lines
from tests.reliability.processes import check_requests, drive, plan, start_server

pytestmark = pytest.mark.slow


def run_web_load(tmp_path: Path, requests: int, in_flight: int, **env: str) -> dict[str, float]:
    """Drive ``requests`` mixed requests at ``in_flight`` against uvicorn, stop it, check."""
    server = start_server(tmp_path / "web.jsonl", **env)
    try:
        sent = plan(requests)
        seconds = drive(server.base_url, sent, in_flight)
    finally:
        server.stop()
    assert [] == [item for item in sent if item.status != 200][:5]
    counts = check_requests(sent, file_lines(server.log_file))
    assert requests == counts["requests"]
    return {**counts, "seconds": seconds}


def test_quick_web_load_loses_and_mixes_nothing(tmp_path: Path) -> None:
    """300 mixed requests (async, sync, streaming, background) at 20 in flight: each request has
    exactly one start and one end line, every handler line, and no line a wrong or missing id."""
    run_web_load(tmp_path, 300, 20)


@pytest.mark.stress
def test_web_load_2000_requests_at_50_in_flight(tmp_path: Path) -> None:
    """2,000 mixed requests at 50 in flight: zero lost request/response lines, zero lines with a
    wrong or missing correlation id."""
    result = run_web_load(tmp_path, 2000, 50)
    print(f"web load: {result}")


@pytest.mark.stress
def test_web_load_2000_requests_in_queue_mode(tmp_path: Path) -> None:
    """The same 2,000 requests with logging in queue mode (AGENT_TRACING_QUEUE=1)."""
    result = run_web_load(tmp_path, 2000, 50, AGENT_TRACING_QUEUE="1")
    print(f"web load, queue mode: {result}")
