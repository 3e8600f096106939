"""The run map: what a callback remembers of each LangChain run between its start and its end.

LangChain gives end and error callbacks only the run id, so everything an end event needs (its
span, the root run, the depth, when it started, which node it belongs to) is kept from the start,
keyed by run id, and dropped on end AND on error: a map that is never emptied is the classic
memory leak of callback handlers. LangChain may call a handler from several threads at once: each
operation on the map is one dict operation (a get, a set, a pop), which the interpreter performs
atomically, so no lock is taken per event.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

__all__ = ["NOTHING", "RunMap", "RunState"]

_NOTHING: Any = object()
NOTHING: Any = _NOTHING
"""The ``pending_input`` of a run that has nothing pending."""


class RunState:
    """One run in flight: its place in the run tree and in the span tree.

    Attributes:
        run_id: The run's id (string form).
        parent_run_id: The parent run's id, ``None`` at the root.
        parent: The parent run's state, ``None`` at the root.
        root_run_id: The id of the root run of this tree.
        depth: 0 at the root, parent's depth + 1 below.
        kind: ``graph``, ``node``, ``route``, ``chain``, ``llm``, ``tool`` or ``retriever``.
        name: The run's name (graph, node, function, model or tool name).
        node: The LangGraph node the run belongs to, if any.
        span_id: The span id given to the run.
        parent_span_id: The parent run's span, or the enclosing span for the root.
        fields: The context fields of every line of the tree (from the root's start).
        head: The first keys of the ``data`` of each of the run's lines (its run ids, depth and
            node), built at its first line (``None`` until then).
        extra: ``span_id``, ``parent_span_id`` and ``fields``: the schema fields of the run's
            lines, built at its first line (``None`` until then, and again after ``fields``
            changes).
        started: ``time.perf_counter()`` at the start.
        tokens: Streamed tokens counted so far (LLM runs, when streaming is logged).
        first_token_ms: Milliseconds to the first streamed token.
        reported_child: A model, tool or retriever below this run logged its body (so the
            node's own output repeats it).
        pending_input: The input of a chain not logged yet: a graph run inside a node looks like
            any chain until its first node starts.
    """

    __slots__ = (
        "depth",
        "extra",
        "fields",
        "first_token_ms",
        "head",
        "kind",
        "name",
        "node",
        "parent",
        "parent_run_id",
        "parent_span_id",
        "pending_input",
        "reported_child",
        "root_run_id",
        "run_id",
        "span_id",
        "started",
        "tokens",
    )

    def __init__(
        self,
        run_id: str,
        parent_run_id: str | None,
        root_run_id: str,
        depth: int,
        kind: str,
        name: str,
        node: str | None,
        span_id: str,
        parent_span_id: str | None,
        fields: dict[str, Any],
        parent: RunState | None = None,
    ) -> None:
        self.run_id = run_id
        self.parent = parent
        self.parent_run_id = parent_run_id
        self.root_run_id = root_run_id
        self.depth = depth
        self.kind = kind
        self.name = name
        self.node = node
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.fields = fields
        self.head: dict[str, Any] | None = None
        self.extra: dict[str, Any] | None = None
        self.started = time.perf_counter()
        self.tokens = 0
        self.first_token_ms: float | None = None
        self.pending_input: Any = _NOTHING
        self.reported_child = False

    @property
    def duration_ms(self) -> float:
        """Milliseconds since the run started."""
        return round((time.perf_counter() - self.started) * 1000, 3)


class RunMap:
    """Thread-safe ``run_id -> RunState`` map; entries leave on end and on error.

    Each method is a single dict operation, atomic in the interpreter: no lock is needed. Runs are
    keyed by their id's integer (``UUID.int``): hashing it costs no Python call, as hashing the
    ``UUID`` does.
    """

    __slots__ = ("_runs",)

    def __init__(self) -> None:
        self._runs: dict[int, RunState] = {}

    def add(self, run_id: UUID, state: RunState) -> None:
        """Remember ``state`` until the run ends."""
        self._runs[run_id.int] = state

    def get(self, run_id: UUID | None) -> RunState | None:
        """The state of a run in flight, or ``None``."""
        return self._runs.get(run_id.int) if run_id is not None else None

    def pop(self, run_id: UUID) -> RunState | None:
        """Forget a run (its end or its error) and return what was kept, or ``None``."""
        return self._runs.pop(run_id.int, None)

    def __len__(self) -> int:
        return len(self._runs)
