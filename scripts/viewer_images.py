"""Refresh the README's pictures of the viewer from log files.

    python scripts/viewer_images.py logs/demo.jsonl [MORE.jsonl ...] [--correlation-id ID]

Writes ``docs/images/viewer-tree.txt`` (``agent-tracing view``, plain text) and
``docs/images/viewer-page.png`` (the ``agent-tracing html`` page in headless Chromium, with one
span and one line opened). Run from the repository root.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_tracing.cli import main as cli  # noqa: E402
from tests.viewer.chromium import Chromium  # noqa: E402


def run(argv: list[str]) -> None:
    """Write the terminal capture and the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+")
    parser.add_argument("-c", "--correlation-id")
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pick = ["--correlation-id", args.correlation_id] if args.correlation_id else []
    text = io.StringIO()
    if cli(["view", *args.files, *pick, "--color", "never"], out=text) != 0:
        raise SystemExit("agent-tracing view failed")
    (out / "viewer-tree.txt").write_text(text.getvalue(), encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "trace.html"
        if cli(["html", *args.files, *pick, "-o", str(page)]) != 0:
            raise SystemExit("agent-tracing html failed")
        browser = Chromium(args.chromium, Path(tmp) / "profile")
        try:
            browser.open(page.as_uri())
            # Open the last span with output files, else the last span, and its last line.
            target = ".span-row[data-kind='freqtrade.command'] .label"
            if not browser.evaluate(f'document.querySelector("{target}") !== null'):
                target = ".span-row:last-of-type .label"
            browser.click(target)
            browser.click(".span-details .event[data-event$='.end']")
            browser.screenshot(out / "viewer-page.png")
        finally:
            browser.close()
    print(f"wrote {out / 'viewer-tree.txt'} and {out / 'viewer-page.png'}")


if __name__ == "__main__":
    run(sys.argv[1:])
