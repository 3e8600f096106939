"""The logger's fast path: a line written without a ``LogRecord`` when nothing else would see one.

After ``configure_logging(json_output="<file>")`` without a console view, the usual dispatch of a
call is: build a record, walk up to the root, hand it to the one JSON file handler, which reads the
record back into the line. When that handler is the only one the record would reach, nothing but
its line is observable, so :class:`~agent_tracing.logger.BoundLogger` makes the line straight
from the call's values (:meth:`JsonFormatter.line_bytes`, the same function the record path
uses) and appends it. The bytes written are the same (``tests/test_fastpath.py`` compares both
paths field by field).

The full path is taken the moment anything else could see the record: another handler anywhere
up the hierarchy (a console view, pytest's capture, a queue), a filter on the logger or the
handler, a logger class or record factory of the application's, a handler or formatter class
other than ours (a subclass too), a level the handler does not take, an exception or stack to
format, or a custom level name.
"""

from __future__ import annotations

import logging
from typing import Any

from agent_tracing.formatters import JsonFormatter

__all__ = ["LEVEL_NAMES", "WRITERS", "sole_writer"]

#: Handler classes that append the line of :meth:`JsonFormatter.line_bytes` with
#: ``append_line(line)`` exactly as their ``emit`` appends a record's (registered by
#: :mod:`agent_tracing.handlers`). Exact classes: a subclass may override ``emit``.
WRITERS: set[type] = set()
#: The five standard levels and the name a line gives each (the only levels the fast path takes).
LEVEL_NAMES = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


def sole_writer(logger: logging.Logger, level: int) -> Any:
    """The handler the fast path writes to, or None to take the full path.

    It is the only handler a record of ``logger`` at ``level`` would reach, one of
    :data:`WRITERS`, with our plain formatter, no filter and a level it takes; ``logger`` has no
    filter (the loggers above it never filter a propagated record, as in the stdlib).
    """
    if logger.filters or logger.disabled or level not in LEVEL_NAMES:
        return None
    found = None
    current: logging.Logger | None = logger
    while current is not None:
        handlers = current.handlers
        if handlers:
            if found is not None or len(handlers) != 1:
                return None
            found = handlers[0]
        current = current.parent if current.propagate else None
    if (
        found is None
        or found.__class__ not in WRITERS
        or found.filters
        or level < found.level
        or found.formatter.__class__ is not JsonFormatter
        or not found.formatter._plain
    ):
        return None
    return found
