"""The reliability suite: the ``stress`` marker, two-view capture and process helpers.

Tests marked ``stress`` (the long load and fault runs) are left out of a plain ``pytest`` run and
run with ``pytest -m stress tests/reliability`` (``make stress``); each has a quick sibling in the
normal suite.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

import agent_tracing as at

#: Any ANSI/VT escape or raw control character a line could use to forge or recolour output.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect ``stress`` tests unless the marker expression asks for them."""
    if "stress" in (config.getoption("markexpr") or ""):
        return
    here = Path(__file__).parent
    kept, dropped = [], []
    for item in items:
        inside = here in Path(str(item.fspath)).parents
        (dropped if inside and item.get_closest_marker("stress") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def schema_line(text: str | bytes) -> dict[str, Any]:
    """Parse one JSON line and assert it is one object with the full schema, in order.

    A lone surrogate is written as its ``\\ud800`` escape (valid JSON that orjson refuses), so
    the stdlib parser is the fallback, as in :mod:`agent_tracing.testing`.
    """
    try:
        line = orjson.loads(text)
    except orjson.JSONDecodeError:
        line = json.loads(text)
    assert isinstance(line, dict)
    assert list(at.SCHEMA_KEYS) == list(line)[: len(at.SCHEMA_KEYS)]
    assert set(line) - set(at.SCHEMA_KEYS) <= {"exception"}
    return line


def file_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON-lines file, each a whole schema object (no torn line)."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the file ends in a partial line"
    return [schema_line(line) for line in data.split(b"\n")[:-1]]


@dataclass
class TwoViews:
    """A logger writing both views (JSON and forced-colour console) into memory."""

    json: io.StringIO = field(default_factory=io.StringIO)
    console: io.StringIO = field(default_factory=io.StringIO)
    #: A logger outside the logging tree that writes to these two views only (pytest's capture
    #: handlers re-raise what a hostile %-format does to them: pytest's business, not ours).
    log: at.BoundLogger = field(init=False)

    def clear(self) -> None:
        for buffer in (self.json, self.console):
            buffer.seek(0)
            buffer.truncate()

    def json_lines(self) -> list[dict[str, Any]]:
        """Every JSON line, each asserted to be one object with the full schema."""
        lines = self.json.getvalue().split("\n")
        assert lines[-1] == ""
        return [schema_line(line) for line in lines[:-1]]

    def by_event(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.json_lines() if line["event"] == event]

    def console_lines(self) -> list[str]:
        return self.console.getvalue().split("\n")[:-1]

    def text(self) -> str:
        return self.json.getvalue() + self.console.getvalue()


@pytest.fixture
def two_views() -> Iterator[TwoViews]:
    """Both views, in memory, on the root logger at DEBUG (with the configured sanitizer)."""
    at.configure_logging(console=False, json=False, level="DEBUG")
    views = TwoViews()
    json_handler = at.JsonStreamHandler(views.json)
    console = logging.StreamHandler(views.console)
    console.setFormatter(at.ConsoleFormatter(stream=views.console, force_color=True))
    console.addFilter(at.ContextFilter())
    private = logging.Logger("hostile", logging.DEBUG)
    private.handlers[:] = [json_handler, console]
    private.propagate = False
    views.log = at.BoundLogger(private)
    root = logging.getLogger()
    root.addHandler(json_handler)
    root.addHandler(console)
    try:
        yield views
    finally:
        root.removeHandler(json_handler)
        root.removeHandler(console)
