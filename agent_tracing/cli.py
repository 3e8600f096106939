"""The ``agent-tracing`` command: list operations, view one as a tree, write it as a page.

::

    agent-tracing list logs/*.jsonl
    agent-tracing view logs/api.jsonl logs/worker.jsonl --correlation-id 3f2a9c1e
    agent-tracing view logs/app.jsonl --follow
    agent-tracing html logs/*.jsonl --correlation-id 3f2a9c1e -o trace.html

Input is JSON lines from files, globs, rotated files (``.1``, ``.gz``, found next to each file
given) or stdin (``-``, the default); malformed lines are skipped and counted on stderr. Exit
status: 0 done, 1 nothing matched (or an input is unreadable), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

import orjson

from agent_tracing.viewer.display import display_text, display_value
from agent_tracing.viewer.filters import LEVELS, LineFilter, parse_time
from agent_tracing.viewer.follow import FollowPrinter, Tail
from agent_tracing.viewer.html import render_html
from agent_tracing.viewer.operations import OperationSummary, summarize
from agent_tracing.viewer.reader import (
    STDIN,
    Line,
    ReadStats,
    expand_inputs,
    needle_for,
    read_lines,
)
from agent_tracing.viewer.terminal import Style, format_ms, render_operation, use_color
from agent_tracing.viewer.tree import Operation, build_operation

__all__ = ["build_parser", "main"]


class UsageError(Exception):
    """A problem with the command line or the input the user should fix (exit status 2)."""


class NotFound(Exception):
    """No operation matched (exit status 1)."""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="JSON-lines files, globs (quoted) or - for stdin (default: stdin)",
    )
    parser.add_argument(
        "--no-rotated",
        dest="rotated",
        action="store_false",
        help="do not read the rotated files (FILE.1, FILE.2.gz, FILE.<date>) next to each FILE",
    )
    parser.add_argument(
        "-c", "--correlation-id", help="the operation (a full id or its first characters)"
    )
    parser.add_argument("--user-id", help="only lines of this user")
    parser.add_argument("--strategy-id", help="only lines of this strategy")
    parser.add_argument("--backtest-id", help="only lines of this backtest")
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="only lines whose context field NAME (tenant_id, ...) is VALUE; repeatable",
    )
    parser.add_argument(
        "--level",
        type=str.upper,
        choices=list(LEVELS),
        help="only lines at this level or above (span start/end lines are always kept)",
    )
    parser.add_argument("--since", help="only lines from this time: ISO 8601 (UTC) or 15m, 2h, 1d")
    parser.add_argument("--until", help="only lines up to this time: ISO 8601 (UTC) or 15m, 2h")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser (``list``, ``view``, ``html``)."""
    parser = argparse.ArgumentParser(
        prog="agent-tracing",
        description="Read agent_tracing JSON-lines logs: list operations, view one as a tree "
        "of spans, or write it as a self-contained timeline page.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lister = commands.add_parser("list", help="list recent operations")
    _add_common(lister)
    lister.add_argument("-n", "--limit", type=int, default=20, help="operations shown (0: all)")
    lister.add_argument("--json", action="store_true", help="one JSON object per operation")

    viewer = commands.add_parser(
        "view", help="print one operation as a tree (default: the latest operation)"
    )
    _add_common(viewer)
    viewer.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    viewer.add_argument(
        "--interval", type=float, default=0.5, help="seconds between reads with --follow"
    )
    viewer.add_argument(
        "-v", "--verbose", action="store_true", help="show DEBUG lines and every SQL query"
    )
    viewer.add_argument(
        "--color", choices=["auto", "always", "never"], default="auto", help="colour the output"
    )
    viewer.add_argument(
        "--data-chars", type=int, default=120, help="characters of each line's data shown"
    )

    page = commands.add_parser("html", help="write one operation as a self-contained page")
    _add_common(page)
    page.add_argument(
        "-o", "--output", help="the page to write (default trace-<id>.html; - for stdout)"
    )
    page.add_argument("--title", help="the page's title")
    return parser


def _line_filter(args: argparse.Namespace, correlation_id: str | None = None) -> LineFilter:
    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
    except ValueError as error:
        raise UsageError(str(error)) from None
    fields = []
    for item in args.field:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--field takes NAME=VALUE, not {item!r}")
        fields.append((name.strip(), value))
    return LineFilter(
        correlation_id=correlation_id,
        user_id=args.user_id,
        strategy_id=args.strategy_id,
        backtest_id=args.backtest_id,
        fields=tuple(fields),
        min_level=LEVELS[args.level] if args.level else 0,
        since=since,
        until=until,
    )


@contextmanager
def _sources(args: argparse.Namespace, stats: ReadStats, spool: bool) -> Iterator[list[str]]:
    """The sources to read; stdin is copied to a temporary file when it must be read twice."""
    sources = expand_inputs(args.files, rotated=args.rotated, stats=stats)
    for missing in stats.missing:
        _warn(f"cannot read {missing}")
    if not sources:
        raise NotFound("no input to read")
    if not (spool and STDIN in sources):
        yield sources
        return
    with tempfile.NamedTemporaryFile(prefix="agent-tracing-", suffix=".jsonl") as copy:
        shutil.copyfileobj(sys.stdin.buffer, copy)
        copy.flush()
        yield [copy.name if source == STDIN else source for source in sources]


def _warn(message: str) -> None:
    """Print a message on stderr; it may quote log values or file names, so it is escaped."""
    print(f"agent-tracing: {display_text(message)}", file=sys.stderr)


def _report(stats: ReadStats) -> None:
    if stats.malformed:
        examples = "; ".join(stats.examples)
        _warn(f"skipped {stats.malformed} malformed of {stats.lines} lines (e.g. {examples})")


def _pick_operation(args: argparse.Namespace, sources: list[str], stats: ReadStats) -> str:
    """The operation to show: the given id (or prefix), else the latest matching the filters."""
    if args.correlation_id:
        return str(args.correlation_id)
    line_filter = _line_filter(args)
    summaries = summarize(x for x in read_lines(sources, stats) if line_filter(x))
    if not summaries:
        raise NotFound("no operation in the input matches")
    return max(summaries, key=lambda s: s.start).correlation_id


def _collect(lines: Iterator[Line], line_filter: LineFilter) -> list[Line]:
    """Keep the chosen operation's lines (the only ones held in memory)."""
    kept: list[Line] = []
    ids: set[str] = set()
    for line in lines:
        if line_filter(line):
            kept.append(line)
            ids.add(str(line.get("correlation_id")))
    if len(ids) > 1:
        shown = ", ".join(sorted(ids)[:5])
        raise UsageError(
            f"correlation id {line_filter.correlation_id!r} matches {len(ids)} operations: "
            f"{shown}; give more characters"
        )
    return kept


def _load_operation(
    args: argparse.Namespace, sources: list[str], stats: ReadStats
) -> tuple[Operation, LineFilter]:
    correlation_id = _pick_operation(args, sources, stats)
    line_filter = _line_filter(args, correlation_id)
    # When the first pass (finding the latest operation) parsed every line, its counts stand.
    counts = stats if args.correlation_id else ReadStats()
    kept = _collect(read_lines(sources, counts, needle_for(correlation_id)), line_filter)
    if not kept:
        raise NotFound(f"no lines of operation {correlation_id!r} match")
    return build_operation(kept), line_filter


# -- commands ---------------------------------------------------------------------------------


def _summary_row(summary: OperationSummary) -> list[str]:
    entry = summary.entry or "-"
    if summary.entry_kind == "http.request":
        entry = f"HTTP {entry}"
    elif summary.entry_kind:
        entry = f"{summary.entry_kind} {entry}"
    cells = [
        summary.correlation_id,
        summary.start,
        format_ms(summary.duration_ms),
        summary.status,
        str(summary.user_id) if summary.user_id is not None else "-",
        entry,
        str(summary.lines),
        str(summary.errors),
    ]
    # Summaries hold the raw values (the id is matched against the lines): escape them here.
    return [display_text(cell) for cell in cells]


def _command_list(args: argparse.Namespace, out: TextIO) -> int:
    stats = ReadStats()
    with _sources(args, stats, spool=False) as sources:
        line_filter = _line_filter(args, args.correlation_id)
        summaries = summarize(x for x in read_lines(sources, stats) if line_filter(x))
    _report(stats)
    if not summaries:
        raise NotFound("no operation in the input matches")
    recent = summaries[::-1][: args.limit] if args.limit > 0 else summaries[::-1]
    if args.json:
        for summary in recent:
            row = display_value(summary.as_dict())
            out.write(orjson.dumps(row).decode("utf-8") + "\n")
        return 0
    header = ["CORRELATION ID", "START", "DURATION", "STATUS", "USER", "ENTRY", "LINES", "ERRORS"]
    rows = [header, *(_summary_row(s) for s in recent)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            + "\n"
        )
    return 0


def _command_view(args: argparse.Namespace, out: TextIO) -> int:
    style = Style(
        color=use_color(out, args.color), verbose=args.verbose, data_limit=args.data_chars
    )
    if args.follow:
        return _follow(args, out, style)
    stats = ReadStats()
    with _sources(args, stats, spool=not args.correlation_id) as sources:
        operation, _ = _load_operation(args, sources, stats)
    out.write(render_operation(operation, style, len(stats.sources)) + "\n")
    _report(stats)
    return 0


def _follow(args: argparse.Namespace, out: TextIO, style: Style) -> int:
    files = [f for f in args.files if f != STDIN]
    if len(files) != len(args.files) or not files:
        raise UsageError("--follow reads files, not stdin")
    stats = ReadStats()
    # A plain path is followed even before it exists (the writer may not have started yet).
    live = [
        source
        for item in files
        for source in (
            expand_inputs([item], rotated=False, stats=stats) if _is_glob(item) else [item]
        )
    ]
    rotated = [s for s in expand_inputs(files, rotated=args.rotated) if s not in live]
    tail = Tail(live, stats)
    try:
        initial = sorted(
            [*read_lines(rotated, stats), *tail.poll()], key=lambda x: str(x["timestamp"])
        )
        chosen = args.correlation_id
        line_filter = _line_filter(args, chosen)
        kept = [x for x in initial if line_filter(x)]
        printer = FollowPrinter(style, prefix_operation=chosen is None)
        if kept:
            if chosen is None:
                latest = max(summarize(kept), key=lambda s: s.start).correlation_id
                kept = [x for x in kept if x.get("correlation_id") == latest]
            operation = build_operation(kept)
            out.write(render_operation(operation, style, len(live) + len(rotated)) + "\n")
            printer.seed(list(operation.walk()))
        out.write(style.paint("-- following; Ctrl-C to stop --", "dim") + "\n")
        out.flush()
        _report(stats)
        reported = stats.malformed
        while True:
            time.sleep(args.interval)
            for line in tail.poll():
                if line_filter(line):
                    text = printer.render(line)
                    if text is not None:
                        out.write(text + "\n")
            out.flush()
            if stats.malformed != reported:
                _warn(f"skipped {stats.malformed} malformed lines")
                reported = stats.malformed
    except KeyboardInterrupt:
        return 0
    finally:
        tail.close()


def _is_glob(text: str) -> bool:
    return any(char in text for char in "*?[")


def _command_html(args: argparse.Namespace, out: TextIO) -> int:
    stats = ReadStats()
    with _sources(args, stats, spool=not args.correlation_id) as sources:
        operation, _ = _load_operation(args, sources, stats)
    page = render_html(operation, args.title)
    target = args.output or f"trace-{(operation.correlation_id or 'operation')[:8]}.html"
    if target == "-":
        out.write(page)
    else:
        Path(target).write_text(page, encoding="utf-8")
        spans = len(operation.spans)
        print(
            display_text(f"wrote {target}: {spans} spans, {operation.lines} lines"), file=sys.stderr
        )
    _report(stats)
    return 0


_COMMANDS: dict[str, Any] = {"list": _command_list, "view": _command_view, "html": _command_html}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stream = out if out is not None else sys.stdout
    if out is None:
        with suppress(AttributeError, ValueError):
            sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    try:
        status: int = _COMMANDS[args.command](args, stream)
        return status
    except UsageError as error:
        _warn(str(error))
        return 2
    except NotFound as error:
        _warn(str(error))
        return 1
    except BrokenPipeError:
        # ``agent-tracing list | head``: the reader left; exit quietly.
        with suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
