"""The timeline page: self-contained, safe with hostile log text, and working in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agent_tracing.viewer.html import render_html
from agent_tracing.viewer.labels import span_label
from agent_tracing.viewer.reader import ReadStats, read_lines
from agent_tracing.viewer.tree import Operation, build_operation
from tests.viewer.chromium import Chromium
from tests.viewer.conftest import LoggedOperation

_DATA = re.compile(r'<script type="application/json" id="trace-data">.*?</script>', re.S)


def _operation(logged: LoggedOperation) -> Operation:
    return build_operation(read_lines(logged.files, ReadStats()))


def _hostile() -> Operation:
    line: dict[str, Any] = {
        "timestamp": "2025-01-01T00:00:00.000Z",
        "level": "INFO",
        "correlation_id": "op",
        "message": '</script><script>document.title="pwned"</script><img src=x onerror=alert(1)>',
        "data": {"span": "<b>bold</b> & co"},
        "event": "task.start",
        "span_id": "a",
        "parent_span_id": None,
    }
    return build_operation([line])


def test_page_needs_no_network(committed_operation: LoggedOperation) -> None:
    """No external script, style, font or image: the page is one file (and says so in its CSP)."""
    page = render_html(_operation(committed_operation))
    outside_data = _DATA.sub("", page)
    assert re.findall(r"(?:src|href)\s*=|https?://|@import|url\(", outside_data) == []
    assert "default-src 'none'" in page


def test_log_text_cannot_break_out_of_the_data(committed_operation: LoggedOperation) -> None:
    """A message holding ``</script>`` stays inside the JSON data, escaped."""
    page = render_html(_hostile())
    assert page.count("</script>") == 2
    assert "\\u003c/script\\u003e" in page
    data = _DATA.search(page)
    assert data is not None
    payload = json.loads(data.group(0).split(">", 1)[1].rsplit("<", 1)[0])
    assert payload["spans"][0]["label"] == "task <b>bold</b> & co"


def test_page_in_headless_chromium(
    chromium: str,
    committed_operation: LoggedOperation,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    """Chromium draws every span with its bar; clicking a span shows its lines, a line its JSON."""
    operation = _operation(committed_operation)
    page = tmp_path / "trace.html"
    page.write_text(render_html(operation), encoding="utf-8")
    browser = Chromium(chromium, tmp_path / "profile")
    try:
        browser.open(page.as_uri())
        rows = browser.evaluate(
            "Array.from(document.querySelectorAll('.span-row')).map(function (r) {"
            " return [r.getAttribute('data-kind'), r.querySelector('.label').textContent,"
            " r.querySelector('.bar').getBoundingClientRect().width > 0]; })"
        )
        assert [[n.kind, f"{label}", True] for n, label in _labels(operation)] == rows
        assert browser.evaluate("document.getElementById('op-status').textContent") == (
            "status: error"
        )
        assert browser.evaluate("performance.getEntriesByType('resource').length") == 0

        browser.click('.span-row[data-kind="freqtrade.command"] .label')
        details = browser.evaluate(
            "Array.from(document.querySelectorAll('.span-details .event .msg'))"
            ".map(function (e) { return e.textContent; })"
        )
        assert details == [
            "freqtrade.command.start: backtesting started",
            "Loading data",
            "Data download retry",
            "freqtrade.command.end: backtesting finished",
        ]
        files = browser.evaluate("document.querySelector('.span-details .files').textContent")
        assert "backtest-result-2024-01-28.meta.json" in files

        browser.click('.span-details .event[data-event="freqtrade.command.end"]')
        shown = json.loads(browser.evaluate("document.querySelector('.event-json').textContent"))
        assert shown["event"] == "freqtrade.command.end"
        assert shown["data"]["output_files"][0].endswith("backtest-result-2024-01-28.json")

        browser.click('.span-row[data-kind="http.request"] .label')
        browser.click('.span-details .event[data-event="auth.ok"]')
        texts = browser.evaluate(
            "Array.from(document.querySelectorAll('.event-json'))"
            ".map(function (e) { return e.textContent; }).join('\\n')"
        )
        assert '"authorization": "[REDACTED]"' in texts
        assert "eyJhbGciOi" not in page.read_text()
        browser.screenshot(artifacts / "trace.png")
    finally:
        browser.close()
    assert (artifacts / "trace.png").stat().st_size > 10_000


def _labels(operation: Operation) -> list[tuple[Any, str]]:
    return [(node, span_label(node)) for node in operation.spans]


def test_hostile_text_is_shown_as_text(chromium: str, tmp_path: Path) -> None:
    """Chromium shows markup in log text literally and runs none of it."""
    page = tmp_path / "hostile.html"
    page.write_text(render_html(_hostile()), encoding="utf-8")
    browser = Chromium(chromium, tmp_path / "profile")
    try:
        browser.open(page.as_uri())
        assert browser.evaluate("document.scripts.length") == 2
        assert browser.evaluate("document.images.length") == 0
        assert browser.evaluate("document.querySelector('.label').textContent") == (
            "task <b>bold</b> & co"
        )
        assert browser.evaluate("document.title") == "operation op"
    finally:
        browser.close()
