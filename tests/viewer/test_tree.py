"""The span tree: built from real runs, generic over kinds, robust to partial or odd input."""

from __future__ import annotations

from typing import Any

from syrupy.assertion import SnapshotAssertion

from agent_tracing.viewer.labels import output_files, span_label, token_usage
from agent_tracing.viewer.reader import ReadStats, read_lines
from agent_tracing.viewer.tree import Operation, SpanNode, build_operation, parse_timestamp
from tests.viewer.conftest import LoggedOperation


def _load(operation: LoggedOperation) -> Operation:
    stats = ReadStats()
    return build_operation(read_lines(operation.files, stats))


def outline(node: SpanNode) -> dict[str, Any]:
    """A span's stable shape: kind, label, status, its own events, and its children."""
    return {
        "span": f"{node.kind}: {span_label(node)} [{node.status}]",
        "events": [line.get("event") or line["message"] for line in node.events],
        "children": [outline(child) for child in node.children],
    }


def test_committed_fixture_tree(
    committed_operation: LoggedOperation, snapshot: SnapshotAssertion
) -> None:
    """The committed run builds one tree: request > agent > nodes > LLM/tools, and the task."""
    operation = _load(committed_operation)
    assert len(operation.roots) == 1
    assert [outline(root) for root in operation.roots] == snapshot


def test_live_run_has_the_same_shape(
    live_operation: LoggedOperation, committed_operation: LoggedOperation
) -> None:
    """A fresh run across two processes builds the same tree as the committed fixture."""
    live, committed = _load(live_operation), _load(committed_operation)
    assert [outline(r) for r in committed.roots] == [outline(r) for r in live.roots]
    assert live_operation.correlation_id == live.correlation_id
    task = next(node for node in live.spans if node.kind == "task")
    request = live.roots[0]
    assert request.span_id == task.parent_span_id
    assert task.start_time >= request.start_time


def test_spans_carry_what_the_integrations_put_in_their_end_events(
    committed_operation: LoggedOperation,
) -> None:
    """LLM token usage, Freqtrade output files, and the failed tool's exception are found."""
    operation = _load(committed_operation)
    by_kind = {node.kind + ":" + str(node.name): node for node in operation.spans}
    llm = by_kind["agent.llm:gpt-4o-mini"]
    assert token_usage(llm) == {"prompt_tokens": 412, "completion_tokens": 58, "total_tokens": 470}
    command = by_kind["freqtrade.command:backtesting"]
    assert output_files(command) == [
        "user_data/backtest_results/backtest-result-2024-01-28.json",
        "user_data/backtest_results/backtest-result-2024-01-28.meta.json",
    ]
    failed = by_kind["agent.tool:risk_check"]
    assert (failed.status, failed.end_line["exception"]["type"]) == ("error", "ValueError")
    assert operation.status == "error"
    assert operation.count(40) == 1


def _ev(
    event: str | None, span_id: str | None, parent: str | None, ts: str, **data: Any
) -> dict[str, Any]:
    return {
        "timestamp": f"2025-01-01T00:00:{ts}Z",
        "level": "INFO",
        "correlation_id": "op",
        "message": event or "line",
        "data": data or None,
        "event": event,
        "span_id": span_id,
        "parent_span_id": parent,
    }


def test_any_kind_is_a_span_and_unknown_parents_become_roots() -> None:
    """A kind no integration uses still nests; a span whose parent is absent is a marked root."""
    operation = build_operation(
        [
            _ev("billing.charge.start", "a", None, "00.000", span="charge card"),
            _ev("billing.retry", "a", None, "00.100"),
            _ev(
                "billing.charge.end",
                "a",
                None,
                "00.500",
                span="charge card",
                duration_ms=500.0,
                status="ok",
            ),
            _ev("task.start", "b", "elsewhere", "01.000", span="orphan task"),
            _ev(None, None, None, "01.100"),
        ]
    )
    assert [span_label(root) for root in operation.roots] == [
        "billing.charge charge card",
        "task orphan task",
    ]
    assert [line["event"] for line in operation.roots[0].events] == ["billing.retry"]
    assert (operation.roots[0].missing_parent, operation.roots[1].missing_parent) == (False, True)
    assert operation.roots[1].status == "running"
    assert len(operation.loose) == 1


def test_inner_start_events_are_events_not_spans() -> None:
    """``agent.graph.start`` inside an agent span (same span id) stays an event of that span."""
    operation = build_operation(
        [
            _ev("agent.run.start", "a", None, "00.000", span="agent"),
            _ev("agent.graph.start", "a", None, "00.001", span="graph"),
            _ev("agent.run.end", "a", None, "00.002", span="agent", duration_ms=2.0, status="ok"),
        ]
    )
    assert [line["event"] for line in operation.roots[0].events] == ["agent.graph.start"]
    assert (operation.roots[0].kind, operation.roots[0].duration_ms) == ("agent.run", 2.0)


def test_span_without_start_takes_its_start_from_the_duration() -> None:
    """A span whose start line was rotated away starts at end minus duration."""
    operation = build_operation(
        [_ev("task.end", "a", None, "02.000", span="late", duration_ms=1500.0, status="error")]
    )
    node = operation.roots[0]
    assert (span_label(node), node.status) == ("task late", "error")
    assert round((parse_timestamp("2025-01-01T00:00:02.000Z") - node.start_time) * 1000) == 1500.0


def test_parent_loops_do_not_hide_or_repeat_spans() -> None:
    """Corrupt input where two spans name each other as parent still shows each span once."""
    operation = build_operation(
        [
            _ev("x.start", "a", "b", "00.000", span="A"),
            _ev("x.start", "b", "a", "00.001", span="B"),
        ]
    )
    assert sorted(str(node.name) for node in operation.spans) == ["A", "B"]


def test_langchain_runs_are_spans_named_by_their_start() -> None:
    """LoggingCallback's run lines (``data.run_id``, no ``data.span``) are spans below the request,
    named from the start line (the graph's end line does not repeat the name)."""
    operation = build_operation(
        [
            _ev("http.request.start", "h", None, "00.000", span="POST /strategies"),
            _ev("agent.graph.start", "g", "h", "00.001", run_id="r1", graph="draft_agent"),
            _ev("agent.tool.start", "t", "g", "00.002", run_id="r2", tool="lookup_indicator"),
            _ev("agent.tool.end", "t", "g", "00.003", run_id="r2", duration_ms=1.0, status="ok"),
            _ev("agent.graph.end", "g", "h", "00.004", run_id="r1", duration_ms=3.0, status="ok"),
            _ev(
                "http.request.end",
                "h",
                None,
                "00.005",
                span="POST /strategies",
                duration_ms=5.0,
                status="ok",
            ),
        ]
    )
    request = operation.roots[0]
    graph = request.children[0]
    assert [(graph.kind, graph.name, graph.status)] == [("agent.graph", "draft_agent", "ok")]
    assert [(c.kind, c.name) for c in graph.children] == [("agent.tool", "lookup_indicator")]


def test_a_span_with_one_event_and_no_start_is_an_event_of_its_parent() -> None:
    """A routing decision logged as its own run (one line, no start or end) folds into its node."""

    def line(
        ts: str, event: str | None, span: str, parent: str | None, **data: Any
    ) -> dict[str, Any]:
        return {
            "timestamp": ts,
            "event": event,
            "span_id": span,
            "parent_span_id": parent,
            "correlation_id": "c",
            "message": event or "",
            "data": {"span": "n", **data},
        }

    operation = build_operation(
        [
            line("2026-01-01T00:00:00.000Z", "agent.node.start", "node", None),
            line("2026-01-01T00:00:00.001Z", "agent.route.decision", "route", "node"),
            line("2026-01-01T00:00:00.002Z", "agent.node.end", "node", None, duration_ms=2.0),
        ]
    )
    (node,) = operation.roots
    assert node.children == []
    assert [event["event"] for event in node.events] == ["agent.route.decision"]


def test_a_failed_agent_run_ends_with_its_error_line() -> None:
    """A LangChain run that failed ends with ``agent.<kind>.error``: the span is an error, not
    still running."""
    operation = build_operation(
        [
            {
                "timestamp": "2026-01-01T00:00:00.000Z",
                "event": "agent.tool.start",
                "level": "INFO",
                "span_id": "t",
                "parent_span_id": None,
                "data": {"run_id": "r", "tool": "risk"},
            },
            {
                "timestamp": "2026-01-01T00:00:00.004Z",
                "event": "agent.tool.error",
                "level": "ERROR",
                "span_id": "t",
                "parent_span_id": None,
                "data": {"run_id": "r", "tool": "risk", "duration_ms": 4.0},
            },
        ]
    )
    (tool,) = operation.roots
    assert (tool.name, tool.status, tool.duration_ms) == ("risk", "error", 4.0)
