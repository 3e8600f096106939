"""Every fenced code block of the README, ``docs/``, ``app/README.md`` and ``CONTRIBUTING.md`` is
run or checked, so the examples cannot rot (the conventions are in CONTRIBUTING.md).

- ``python``: run as a script in a fresh interpreter (the checkout on ``PYTHONPATH``, an empty
  temporary folder as working directory); a block defining ``def test_...`` is run by pytest.
  A block preceded by ``<!-- docs: continues -->`` runs after the page's previous Python block.
- ``sh``, ``bash``, ``console``: each command that can run here is run in a folder holding
  ``logs/*.jsonl`` from a small real run (a FastAPI request running a LangGraph graph and SQL, a
  task span in a second file): ``agent-tracing``, ``jq`` and ``zcat`` pipelines must print
  something, ``python -c`` must succeed. The others are checked: ``make`` targets exist in the
  Makefile, ``pip install`` extras exist in pyproject.toml, the ``module:attribute`` of a
  ``uvicorn`` command and the ``-A`` module of a ``celery`` command import, ``python -m`` modules
  exist, ``pytest`` paths and script files exist, lnav's format file parses.
- ``json``: parses; a log line has the schema keys in order.
- ``text``: output shown to the reader, not run.
- ``<!-- docs: not run: <reason> -->`` right before a block exempts it; the reason is required.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import pytest

import agent_tracing as at

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    "README.md",
    "CONTRIBUTING.md",
    "app/README.md",
    *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md")),
]
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[^`\s]*)\s*$")
DIRECTIVE = re.compile(r"^\s*<!--\s*docs:\s*(?P<body>.*?)\s*-->\s*$")
RUN_LANGS = {"python", "sh", "bash", "console", "json"}
OUTPUT_LANGS = {"text"}
CORRELATION_ID = "3f2a9c1e-7b4d-4e8a-9c21-5d6e7f8a9b0c"
BIN = Path(sys.executable).parent
TIMEOUT = 240


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and the directive above it."""

    page: str
    line: int
    lang: str
    code: str
    directive: str | None
    before: str  # the Python code this block continues ("" when it does not)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def parse_blocks(page: str) -> list[Block]:
    """Return the fenced blocks of ``page`` in order, with continuations resolved."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    last_python = ""
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        indent = len(match["indent"])
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not re.match(r"^\s*```\s*$", lines[index]):
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        index += 1
        directive = None
        previous = start - 1
        while previous >= 0 and not lines[previous].strip():
            previous -= 1
        if previous >= 0 and (found := DIRECTIVE.match(lines[previous])):
            directive = found["body"]
        code = "\n".join(body) + "\n"
        before = last_python if directive == "continues" else ""
        lang = match["lang"]
        if lang == "python":
            last_python = before + code
        blocks.append(Block(page, start + 1, lang, code, directive, before))
    return blocks


BLOCKS = [block for page in PAGES for block in parse_blocks(page)]


def run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` and capture its output as text (the caller judges the exit status)."""
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a block: this checkout first, no logging settings of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_TRACING_")}
    env.pop("AGENT_TRACING_REQUIRE_SERVICES", None)
    env.update(PYTHONPATH=str(ROOT), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1")
    env.update(extra)
    return env


SCENARIO = f"""
import gzip, shutil
import agent_tracing as at
from agent_tracing.fastapi import RequestLoggingMiddleware
from agent_tracing.langchain import LoggingCallback
from agent_tracing.sqlalchemy import instrument_engine
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from tests.integrations.langchain_support import reference_graph

at.configure_logging(json_output="logs/api.jsonl", console=False, level="DEBUG")
engine = create_engine("sqlite://")
instrument_engine(engine)
graph = reference_graph()
app = FastAPI()
app.add_middleware(RequestLoggingMiddleware, logger="app.http")

@app.post("/agents/chat")
def chat() -> dict[str, str]:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with at.bind(user_id="user_123"):
        config = {{"callbacks": [LoggingCallback()]}}
        graph.invoke({{"messages": [("user", "BTC price?")]}}, config=config)
    log = at.get_logger("app.api")
    log.warning("Slow answer", event="app.slow", data={{"ms": 900}})
    try:
        raise ValueError("no quote")
    except ValueError:
        log.exception("Quote failed", event="app.quote.failed")
    return {{"status": "ok"}}

with TestClient(app) as client:
    client.post("/agents/chat", headers={{"X-Correlation-ID": "{CORRELATION_ID}"}})
at.shutdown_logging()
at.configure_logging(json_output="logs/worker.jsonl", console=False, level="DEBUG")
with at.bind(correlation_id="{CORRELATION_ID}", user_id="user_123"):
    with at.span("backtests.run", kind="task") as span:
        at.get_logger("app.tasks").info("Backtest finished", event="backtest.finished")
        span.set(result={{"trades": 12}})
at.shutdown_logging()
shutil.copy("logs/api.jsonl", "logs/app.jsonl")
with open("logs/worker.jsonl", "rb") as source, gzip.open("logs/app.jsonl.1.gz", "wb") as target:
    shutil.copyfileobj(source, target)
"""


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``logs/api.jsonl``, ``worker.jsonl``, ``app.jsonl`` (+ a rotated gzip) and
    ``demo.jsonl`` (the committed ``make demo`` log), written by the library in a real run."""
    folder = tmp_path_factory.mktemp("docs-logs")
    (folder / "logs").mkdir()
    done = run([sys.executable, "-c", SCENARIO], folder, clean_env())
    assert done.returncode == 0, done.stderr
    shutil.copy(ROOT / "tests/viewer/fixtures/demo.jsonl", folder / "logs/demo.jsonl")
    return folder


def strip_comment(line: str) -> str:
    """Drop a shell comment (a ``#`` after whitespace, outside quotes) from ``line``."""
    quote = ""
    for position, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position].rstrip()
    return line.rstrip()


def shell_commands(code: str) -> Iterator[str]:
    """Yield the commands of a shell block: continuations joined, comments and prompts dropped."""
    pending = ""
    for raw in code.splitlines():
        line = strip_comment(raw.removeprefix("$ ")) if not pending else strip_comment(raw)
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        if command:
            yield command


def words_of(command: str) -> list[str]:
    """The command's words without leading ``NAME=value`` assignments and ``.venv/bin/``."""
    words = shlex.split(command)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    if words:
        words[0] = words[0].removeprefix(".venv/bin/")
    return words


def pytest_paths(args: list[str]) -> list[str]:
    """The paths among pytest's arguments: not options, nor the values of ``-m``, ``-k``, ``-p``."""
    paths: list[str] = []
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg in {"-m", "-k", "-p", "--timeout"}:
            skip_next = True
        elif not arg.startswith("-"):
            paths.append(arg)
    return paths


def make_targets() -> set[str]:
    """The Makefile's targets."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {m[1] for line in text.splitlines() if (m := re.match(r"^([A-Za-z0-9_.-]+):", line))}


def extras() -> set[str]:
    """The extras pyproject.toml declares."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return set(project["optional-dependencies"])


def python_check(code: str, cwd: Path, env: dict[str, str]) -> str:
    """Run ``code`` in a fresh interpreter; return what went wrong, or ''."""
    done = run([sys.executable, "-c", code], cwd, env)
    return "" if done.returncode == 0 else done.stderr[-2000:]


def check_or_run(command: str, cwd: Path, env: dict[str, str]) -> str:
    """Run or check one shell command; return what went wrong, or ''."""
    words = words_of(command)
    if not words:
        return f"no command in {command!r}"
    tool = words[0]
    if tool == "export":
        for assignment in words[1:]:
            name, _, value = assignment.partition("=")
            env[name] = value
        return ""
    if tool == "make":
        targets = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        missing = [t for t in targets if t not in make_targets()]
        return f"no make target {missing}" if missing else ""
    if tool == "pip":
        specs = [w for w in words[2:] if not w.startswith("-")]
        if words[1:2] != ["install"] or not specs:
            return f"cannot check {command!r}"
        for spec in specs:
            found = re.fullmatch(r"agent-tracing\[(?P<extras>[a-z0-9_,-]+)\]", spec)
            if found is None:
                return f"not an agent-tracing extra: {spec!r}"
            unknown = set(found["extras"].split(",")) - extras()
            if unknown:
                return f"no extra {sorted(unknown)} in pyproject.toml"
        return ""
    if tool == "uvicorn":
        target = next(w for w in words[1:] if ":" in w and not w.startswith("-"))
        module, _, attribute = target.partition(":")
        return python_check(
            f"import importlib; assert getattr(importlib.import_module({module!r}), {attribute!r})",
            cwd,
            env,
        )
    if tool == "celery":
        module = words[words.index("-A") + 1]
        return python_check(
            f"import importlib, celery; m = importlib.import_module({module!r}); "
            "assert any(isinstance(v, celery.Celery) for v in vars(m).values())",
            cwd,
            env,
        )
    if tool in {"python", "python3"}:
        if words[1:3] == ["-m", "pytest"]:
            paths = [w.split("::")[0] for w in pytest_paths(words[3:])]
            missing = [p for p in paths if not glob(str(ROOT / p))]
            return f"no such test path {missing}" if missing or not paths else ""
        if words[1:2] == ["-m"]:
            spec = f"import importlib.util; assert importlib.util.find_spec({words[2]!r})"
            return python_check(spec, cwd, env)
        if words[1:2] != ["-c"]:
            return "" if (ROOT / words[1]).is_file() else f"no such script {words[1]}"
    if tool == "lnav":
        files = [w for w in words[1:] if w.endswith(".json") or w.endswith(".jsonl")]
        fmt = ROOT / "contrib/lnav/agent_tracing.json"
        if "agent_tracing_log" not in json.loads(fmt.read_text(encoding="utf-8")):
            return "the lnav format does not define agent_tracing_log"
        missing = [f for f in files if not (ROOT / f).exists() and not (cwd / f).exists()]
        return f"no such file {missing}" if missing else ""
    if tool not in {"agent-tracing", "jq", "zcat", "python", "python3"}:
        return f"no rule to run or check {tool!r}"
    follow = "--follow" in words
    command = re.sub(r"(^|[\s|])\.venv/bin/", r"\1", command)  # the shared venv is on PATH
    try:
        done = run(["bash", "-o", "pipefail", "-c", command], cwd, env, 5 if follow else TIMEOUT)
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout or b""
        return "" if follow and output else f"{command!r} timed out with no output"
    if done.returncode != 0:
        return f"{command!r} exited {done.returncode}: {done.stderr[-2000:]}"
    written = [w for i, w in enumerate(words) if i and words[i - 1] == "-o" and w != "-"]
    if written:
        return "" if all((cwd / w).stat().st_size for w in written) else f"{written} empty"
    if not done.stdout.strip() and "> " not in command:
        return f"{command!r} printed nothing"
    return ""


def test_every_block_has_a_known_kind() -> None:
    """Every block names a language run here or an output language; every directive is known."""
    problems = [
        f"{b.id}: language {b.lang!r}" for b in BLOCKS if b.lang not in RUN_LANGS | OUTPUT_LANGS
    ]
    for block in BLOCKS:
        if block.directive is None or block.directive == "continues":
            continue
        reason = block.directive.removeprefix("not run:").strip()
        if not block.directive.startswith("not run:") or not reason:
            problems.append(f"{block.id}: directive {block.directive!r}, not 'not run: <reason>'")
    assert not problems, problems
    assert len([b for b in BLOCKS if b.lang in RUN_LANGS]) > 40


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in RUN_LANGS], ids=lambda b: b.id)
def test_block(block: Block, log_dir: Path, tmp_path: Path) -> None:
    """The block runs (Python, shell commands that can run here) or is checked (the others)."""
    if block.directive and block.directive.startswith("not run:"):
        assert block.directive.removeprefix("not run:").strip(), block.id
        return
    if block.lang == "python":
        code = block.before + block.code
        is_test = re.search(r"^def test_", code, re.MULTILINE) is not None
        script = tmp_path / ("test_example.py" if is_test else "example.py")
        script.write_text(code, encoding="utf-8")
        runs = [[str(script)]]
        if is_test:  # a test module: pytest writes its snapshots, then a second run compares
            pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
            runs = [[*pytest_args, "--snapshot-update"], pytest_args]
        for args in runs:
            done = run([sys.executable, *args], tmp_path, clean_env())
            assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    elif block.lang == "json":
        values = [json.loads(line) for line in block.code.splitlines() if line.strip()]
        for value in values:
            if isinstance(value, dict) and "timestamp" in value:
                keys = [k for k in value if k != "exception"]
                assert keys == list(at.SCHEMA_KEYS)
    else:
        env = clean_env()
        commands = list(shell_commands(block.code))
        assert commands, f"{block.id} has no command"
        problems = [f"{c}: {p}" for c in commands if (p := check_or_run(c, log_dir, env))]
        assert not problems, problems


def test_jq_recipes_return_lines(log_dir: Path) -> None:
    """The scenario log holds what the jq recipes select: decisions, request ends, SQL, tokens."""
    lines = [json.loads(line) for line in (log_dir / "logs/api.jsonl").read_text().splitlines()]
    events = {line["event"] for line in lines}
    assert {"agent.route.decision", "http.request.end", "db.query", "agent.llm.end"} <= events
    with gzip.open(log_dir / "logs/app.jsonl.1.gz", "rt") as rotated:
        assert "backtest.finished" in rotated.read()


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of the headings of ``page`` (outside code blocks)."""
    found: set[str] = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and (heading := re.match(r"^#{1,6} (.*)$", line)):
            found.add(slug(heading[1]))
    return found


def test_links_resolve() -> None:
    """Every relative link of the pages names an existing file, and after ``#`` a heading of it."""
    broken = []
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (ROOT / page).parent / path if path else ROOT / page
            if not file.exists():
                broken.append(f"{page}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{page}: {target} (no such heading)")
    assert not broken, broken


def test_viewer_tree_is_the_committed_capture() -> None:
    """The tree in docs/viewer.md is ``docs/images/viewer-tree.txt`` (test_cli keeps it current)."""
    shown = next(b for b in parse_blocks("docs/viewer.md") if b.lang == "text")
    capture = (ROOT / "docs/images/viewer-tree.txt").read_text(encoding="utf-8")
    assert shown.code == capture


UVICORN_CHECK = """
import logging
for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
    assert not logging.getLogger(name).handlers, name
assert logging.getLogger("uvicorn.error").propagate
"""


@pytest.mark.parametrize(
    "block",
    [
        b
        for b in BLOCKS
        if b.lang == "python" and "add_middleware(RequestLoggingMiddleware" in b.code
    ],
    ids=lambda b: b.id,
)
def test_fastapi_examples_route_uvicorn_lines(block: Block, tmp_path: Path) -> None:
    """A FastAPI example run after uvicorn's own log config leaves uvicorn no handler of its own."""
    uvicorn_setup = (
        "import logging.config\nfrom uvicorn.config import LOGGING_CONFIG\n"
        "logging.config.dictConfig(LOGGING_CONFIG)\n"
    )
    script = tmp_path / "example.py"
    script.write_text(uvicorn_setup + block.before + block.code + UVICORN_CHECK, encoding="utf-8")
    done = run([sys.executable, str(script)], tmp_path, clean_env())
    assert done.returncode == 0, done.stderr[-4000:]
