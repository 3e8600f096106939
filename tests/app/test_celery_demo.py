"""``python -m app.celery.demo``: one correlation id across the request and the worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_tracing.celery import uninstrument_celery
from app.celery import demo
from tests.conftest import json_lines


def test_demo_links_request_and_tasks_and_leaks_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every task line of the demo carries the request's correlation id; the password never
    reaches the file."""
    monkeypatch.chdir(tmp_path)
    uninstrument_celery()
    try:
        demo.main()
    finally:
        uninstrument_celery()
    correlation_id = capsys.readouterr().out.split("correlation id: ")[1].split()[0]
    lines = json_lines(tmp_path / demo.LOG_FILE)
    task_lines = [line for line in lines if (line["event"] or "").startswith("task.")]
    assert {line["correlation_id"] for line in task_lines} == {correlation_id}
    events = [line["event"] for line in task_lines]
    assert {"task.published", "task.start", "task.end", "task.failed", "task.retried"} <= set(
        events
    )
    assert "hunter2" not in (tmp_path / demo.LOG_FILE).read_text()
