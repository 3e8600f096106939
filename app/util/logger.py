"""The GenTrade logger entry point, kept from the original design: ``setup_logger(name)``.

A thin function over the core: the handlers are installed once by ``configure_logging`` (at
application start-up); this only names the logger under ``app``.
"""

from __future__ import annotations

from agent_tracing import BoundLogger, get_logger


def setup_logger(name: str | None = None, component: str | None = None) -> BoundLogger:
    """Return the logger ``app.<name>`` (``app`` when no name is given).

    Args:
        name: A module name; a name already under ``app.`` (``__name__`` in this package) is kept.
        component: The ``component`` of its lines (e.g. ``BacktestsService``).
    """
    if not name:
        logger_name = "app"
    elif name == "app" or name.startswith("app."):
        logger_name = name
    else:
        logger_name = f"app.{name}"
    return get_logger(logger_name, component=component)
