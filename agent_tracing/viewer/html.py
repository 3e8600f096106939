"""``agent-tracing html``: one self-contained page (no network needed) with the operation's
waterfall timeline, its span tree, and each line's JSON on click.

The page carries its data as one JSON document inside a ``<script type="application/json">``
element (``<``, ``>`` and ``&`` escaped so no log text can close it) and builds the rows with
``textContent`` only: log text is never parsed as HTML. The lines are the operation's, kept
through :func:`~agent_tracing.viewer.display.display_line`: secrets redacted again (the file may
come from another logger) and controls escaped, so the page holds no raw control character either.
"""

from __future__ import annotations

import html
from typing import Any

import orjson

from agent_tracing.viewer.display import display_text
from agent_tracing.viewer.labels import output_files, span_details, span_label, sql_summary
from agent_tracing.viewer.terminal import format_ms
from agent_tracing.viewer.tree import Operation

__all__ = ["operation_payload", "render_html"]


def operation_payload(operation: Operation) -> dict[str, Any]:
    """The data the page draws: spans depth-first with offsets in ms, and every line."""
    origin = operation.start_time
    spans = []
    for node, depth in operation.walk():
        sql_count, sql_ms = sql_summary(node.events)
        facts = span_details(node)
        if sql_count:
            facts.append(f"SQL {sql_count} queries {format_ms(sql_ms)}")
        spans.append(
            {
                "id": node.span_id,
                "parent": node.parent_span_id,
                "depth": depth,
                "kind": node.kind,
                "label": span_label(node),
                "status": node.status,
                "offset_ms": round((node.start_time - origin) * 1000, 3),
                "duration_ms": node.duration_ms,
                "duration": format_ms(node.duration_ms),
                "facts": facts,
                "files": output_files(node),
                "missing_parent": node.missing_parent,
                "warnings": sum(line.get("level") == "WARNING" for line in node.lines),
                "errors": sum(line.get("level") in ("ERROR", "CRITICAL") for line in node.lines),
                "lines": node.lines,
            }
        )
    return {
        "correlation_id": operation.correlation_id,
        "user_id": operation.user_id,
        "start": operation.start,
        "status": operation.status,
        "duration_ms": operation.duration_ms,
        "duration": format_ms(operation.duration_ms),
        "lines": operation.lines,
        "errors": operation.count(40),
        "warnings": operation.count(30) - operation.count(40),
        "spans": spans,
        "loose": operation.loose,
    }


def _script_json(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode("utf-8")
    # Inside <script> only "</" could end the element; escaping all three keeps it plain JSON.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(operation: Operation, title: str | None = None) -> str:
    """Return the page for ``operation`` as one HTML document with inline CSS and JS."""
    heading = display_text(title or f"operation {operation.correlation_id or '-'}")
    # Plain concatenation: no placeholder in the log text can be substituted again.
    parts = {
        "TITLE": html.escape(heading),
        "CSS": _CSS,
        "JS": _JS,
        "DATA": _script_json(operation_payload(operation)),
    }
    pieces = _TEMPLATE.split("{{")
    out = [pieces[0]]
    for piece in pieces[1:]:
        key, _, rest = piece.partition("}}")
        out.append(parts[key])
        out.append(rest)
    return "".join(out)


_CSS = """
:root { --ok: #2e7d32; --error: #c62828; --warn: #ef6c00; --run: #8d6e00; --muted: #666;
  --line: #e4e4e4; --bg: #fff; --bar: #5c7cfa; }
* { box-sizing: border-box; }
body { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: 0;
  color: #1d1d1d; background: var(--bg); }
header { padding: 12px 16px; border-bottom: 1px solid var(--line); background: #fafafa; }
header h1 { font-size: 15px; margin: 0 0 4px; }
header .meta span { margin-right: 16px; color: var(--muted); }
.icon.status-ok, #op-status.status-ok { color: var(--ok); }
.icon.status-error, #op-status.status-error, .span-row.status-error .label { color: var(--error); }
.icon.status-running { color: var(--run); }
.axis { display: grid; grid-template-columns: minmax(320px, 42%) 1fr; color: var(--muted);
  font-size: 11px; border-bottom: 1px solid var(--line); }
.axis .ticks { position: relative; height: 18px; border-left: 1px solid var(--line); }
.axis .tick { position: absolute; top: 2px; transform: translateX(-50%); white-space: nowrap; }
.axis .tick:first-child { transform: none; }
.axis .tick:last-child { transform: translateX(-100%); }
.axis .title { padding: 2px 8px; }
#trace { padding: 8px 0; }
.span-row { display: grid; grid-template-columns: minmax(320px, 42%) 1fr; cursor: pointer;
  border-bottom: 1px solid #f2f2f2; }
.span-row:hover, .span-row.open { background: #f3f6ff; }
.span-name { padding: 3px 8px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.span-name .icon { display: inline-block; width: 1.2em; font-weight: bold; }
.span-name .dur { color: var(--muted); margin-left: 8px; }
.span-name .fact { color: #37474f; margin-left: 8px; font-size: 12px; }
.span-name .badge { margin-left: 6px; font-size: 11px; padding: 0 4px; border-radius: 3px;
  color: #fff; }
.badge.warn { background: var(--warn); } .badge.err { background: var(--error); }
.lane { position: relative; border-left: 1px solid var(--line); }
.bar { position: absolute; top: 5px; height: 12px; min-width: 2px; border-radius: 2px;
  background: var(--bar); opacity: .85; }
.bar.kind-http-request { background: #1e88e5; } .bar.kind-task { background: #8e24aa; }
.bar.kind-agent-run, .bar.kind-agent-node { background: #00897b; }
.bar.kind-agent-llm { background: #f4511e; } .bar.kind-agent-tool { background: #6d4c41; }
.bar.kind-freqtrade-command { background: #3949ab; }
.bar.status-error { background: var(--error); }
.span-details { padding: 4px 16px 8px 32px; background: #fbfbfb;
  border-bottom: 1px solid var(--line); }
.span-details .files div { color: #3949ab; }
.event { padding: 1px 0; cursor: pointer; white-space: pre-wrap; word-break: break-all; }
.event:hover { background: #eef; }
.event .ts { color: var(--muted); margin-right: 6px; }
.event.level-WARNING { color: var(--warn); } .event.level-ERROR, .event.level-CRITICAL
  { color: var(--error); } .event.level-DEBUG { color: #777; }
.event-json { margin: 2px 0 6px 16px; padding: 6px 8px; background: #272822; color: #f8f8f2;
  border-radius: 3px; white-space: pre-wrap; word-break: break-all; cursor: text; }
.section { padding: 8px 16px; color: var(--muted); }
"""

_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trace-data").textContent);
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  var meta = document.getElementById("meta");
  [["correlation id", data.correlation_id], ["user", data.user_id], ["start", data.start],
   ["duration", data.duration], ["lines", data.lines], ["errors", data.errors],
   ["warnings", data.warnings]].forEach(function (pair) {
    meta.appendChild(el("span", null, pair[0] + ": " + (pair[1] === null ? "-" : pair[1])));
  });
  var status = el("span", "status-" + data.status, "status: " + data.status);
  status.id = "op-status";
  meta.appendChild(status);
  var total = Math.max(data.duration_ms || 0, 1);
  data.spans.forEach(function (s) {
    total = Math.max(total, s.offset_ms + (s.duration_ms || 0));
  });
  function eventNode(line) {
    var wrap = el("div");
    var row = el("div", "event level-" + line.level);
    if (line.event) row.setAttribute("data-event", line.event);
    row.appendChild(el("span", "ts", (line.timestamp || "").slice(11, 23)));
    var text = (line.event ? line.event + ": " : "") + (line.message || "");
    if (line.exception && line.exception.type) {
      text += "  (" + line.exception.type + ": " + line.exception.message + ")";
    }
    row.appendChild(el("span", "msg", text));
    wrap.appendChild(row);
    row.addEventListener("click", function (ev) {
      ev.stopPropagation();
      var shown = wrap.querySelector(".event-json");
      if (shown) { wrap.removeChild(shown); return; }
      wrap.appendChild(el("pre", "event-json", JSON.stringify(line, null, 2)));
    });
    return wrap;
  }
  function fmt(ms) {
    return ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : ms.toFixed(ms >= 10 ? 0 : 1) + " ms";
  }
  var axis = el("div", "axis");
  axis.appendChild(el("div", "title", data.spans.length + " spans"));
  var ticks = el("div", "ticks");
  [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
    var tick = el("span", "tick", fmt(total * f));
    tick.style.left = (100 * f) + "%";
    ticks.appendChild(tick);
  });
  axis.appendChild(ticks);
  document.getElementById("trace").appendChild(axis);
  var icons = { ok: "\u2713", error: "\u2717", running: "\u2026" };
  var container = document.getElementById("trace");
  data.spans.forEach(function (s) {
    var row = el("div", "span-row status-" + s.status);
    row.setAttribute("data-span-id", s.id);
    row.setAttribute("data-kind", s.kind);
    var name = el("div", "span-name");
    name.style.paddingLeft = (8 + s.depth * 18) + "px";
    name.appendChild(el("span", "icon status-" + s.status, icons[s.status] || "?"));
    name.appendChild(el("span", "label", s.label));
    name.appendChild(el("span", "dur", s.duration));
    s.facts.forEach(function (f) { name.appendChild(el("span", "fact", f)); });
    function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
    if (s.errors) name.appendChild(el("span", "badge err", plural(s.errors, "error")));
    if (s.warnings) name.appendChild(el("span", "badge warn", plural(s.warnings, "warning")));
    name.title = s.label + " (" + s.kind + ", span " + s.id + ")";
    var lane = el("div", "lane");
    var bar = el("div", "bar kind-" + s.kind.replace(/\./g, "-") + " status-" + s.status);
    bar.style.left = (100 * s.offset_ms / total) + "%";
    bar.style.width = (100 * (s.duration_ms || 0) / total) + "%";
    bar.title = s.label + " +" + s.offset_ms.toFixed(1) + " ms, " + s.duration;
    lane.appendChild(bar);
    row.appendChild(name);
    row.appendChild(lane);
    container.appendChild(row);
    var details = null;
    row.addEventListener("click", function () {
      if (details) {
        container.removeChild(details); details = null; row.classList.remove("open"); return;
      }
      details = el("div", "span-details");
      details.setAttribute("data-span-id", s.id);
      if (s.missing_parent) {
        var note = "parent span " + s.parent + " is not in the input";
        details.appendChild(el("div", "section", note));
      }
      if (s.files.length) {
        var files = el("div", "files");
        s.files.forEach(function (f) { files.appendChild(el("div", null, "\u2192 " + f)); });
        details.appendChild(files);
      }
      s.lines.forEach(function (line) { details.appendChild(eventNode(line)); });
      row.classList.add("open");
      container.insertBefore(details, row.nextSibling);
    });
  });
  if (data.loose.length) {
    var loose = document.getElementById("loose");
    loose.appendChild(el("div", "section", "lines outside any span"));
    var list = el("div", "span-details");
    data.loose.forEach(function (line) { list.appendChild(eventNode(line)); });
    loose.appendChild(list);
  }
  document.body.setAttribute("data-ready", "1");
})();
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{{TITLE}}</title>
<style>{{CSS}}</style>
</head>
<body>
<header><h1>{{TITLE}}</h1><div class="meta" id="meta"></div></header>
<main><div id="trace"></div><div id="loose"></div></main>
<script type="application/json" id="trace-data">{{DATA}}</script>
<script>{{JS}}</script>
</body>
</html>
"""
