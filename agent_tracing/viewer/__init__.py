"""The ``agent-tracing`` viewer: operations from JSON-lines logs as a tree or a timeline page.

Stdlib plus the core's dependencies only. ``reader`` streams and merges the input, ``filters``
chooses lines, ``tree`` builds the span tree, ``terminal`` and ``html`` render it, ``operations``
lists operations and ``follow`` tails growing files. ``display`` makes what is shown safe: the
lines of the tree, and anything else printed from a log, are redacted again (a file may come from
another logger) and their control characters escaped (a file may come from anyone).
The same steps as the command, from Python::

    from agent_tracing.viewer import ReadStats, Style, build_operation, read_lines, render_operation

    stats = ReadStats()
    lines = (x for x in read_lines(["logs/api.jsonl", "logs/worker.jsonl"], stats)
             if x.get("correlation_id") == correlation_id)
    print(render_operation(build_operation(lines), Style()))
"""

from agent_tracing.viewer.filters import LineFilter, parse_time
from agent_tracing.viewer.html import render_html
from agent_tracing.viewer.operations import OperationSummary, summarize
from agent_tracing.viewer.reader import ReadStats, expand_inputs, read_lines
from agent_tracing.viewer.terminal import Style, render_operation
from agent_tracing.viewer.tree import Operation, SpanNode, build_operation

__all__ = [
    "LineFilter",
    "Operation",
    "OperationSummary",
    "ReadStats",
    "SpanNode",
    "Style",
    "build_operation",
    "expand_inputs",
    "parse_time",
    "read_lines",
    "render_html",
    "render_operation",
    "summarize",
]
