"""``configure_logging``: the one call that sets up both views, levels, redaction and queue mode.

Safe to repeat: each call removes the handlers the previous one installed (and only those; a
foreign handler such as pytest's ``caplog`` stays) and installs the new ones. Explicit arguments win
over environment variables, which win over the defaults.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import os
import queue
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from agent_tracing.encoding import Limits, Sanitizer, set_sanitizer
from agent_tracing.formatters import ConsoleFormatter
from agent_tracing.handlers import (
    ConsoleStreamHandler,
    ContextQueueHandler,
    JsonFileHandler,
    JsonStreamHandler,
    RotatingJsonFileHandler,
    TimedRotatingJsonFileHandler,
)
from agent_tracing.records import ContextFilter
from agent_tracing.redaction import Redactor

__all__ = ["LoggingSettings", "configure_logging", "flush_logging", "shutdown_logging"]

_MARK = "_agent_tracing_handler"


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _env_bool(name: str) -> bool | None:
    value = _env(name)
    if value is None:
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_int(name: str) -> int | None:
    value = _env(name)
    return int(value) if value is not None else None


def _level(value: int | str) -> int:
    if isinstance(value, int):
        return value
    number = logging.getLevelName(value.strip().upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {value!r}")
    return number


def _parse_levels(text: str) -> dict[str, str]:
    levels: dict[str, str] = {}
    for part in text.split(","):
        if part.strip():
            name, _, level = part.partition("=")
            levels[name.strip()] = level.strip()
    return levels


def _parse_size(text: str) -> int:
    text = text.strip().upper()
    for suffix, factor in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3), ("B", 1)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


@dataclass
class LoggingSettings:
    """What :func:`configure_logging` set up (the resolved options, after the environment)."""

    level: int = logging.INFO
    console: bool = True
    console_level: int = logging.INFO
    console_stream: str | TextIO = "stderr"
    color: bool | None = None
    json: bool = True
    json_level: int = logging.DEBUG
    json_output: str = "stdout"
    rotate: str | None = None
    max_bytes: int = 10 * 1024 * 1024
    backup_count: int = 5
    when: str = "midnight"
    levels: dict[str, int] = field(default_factory=dict)
    queue: bool = False
    redact_keys: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)


class _State:
    handlers: list[logging.Handler] = []
    listener: logging.handlers.QueueListener | None = None
    queue_handler: ContextQueueHandler | None = None
    targets: list[logging.Handler] = []
    leveled: list[str] = []
    root_level: int | None = None
    settings: LoggingSettings | None = None
    lock = threading.RLock()
    atexit_registered = False


def _stream(name: str | TextIO) -> TextIO:
    if not isinstance(name, str):
        return name
    return sys.stderr if name == "stderr" else sys.stdout


def configure_logging(
    *,
    level: int | str | None = None,
    console: bool | None = None,
    console_level: int | str | None = None,
    console_stream: str | TextIO | None = None,
    color: bool | None = None,
    json: bool | None = None,
    json_level: int | str | None = None,
    json_output: str | None = None,
    rotate: str | None = None,
    max_bytes: int | None = None,
    backup_count: int | None = None,
    when: str | None = None,
    levels: Mapping[str, int | str] | None = None,
    queue_mode: bool | None = None,
    redact_keys: Iterable[str] | None = None,
    max_string: int | None = None,
    max_items: int | None = None,
    max_depth: int | None = None,
) -> LoggingSettings:
    """Set up logging for the whole process: console view, JSON view, levels, redaction.

    Args:
        level: Level of the root logger (what reaches the handlers at all). Env
            ``AGENT_TRACING_LEVEL``; default INFO.
        console: Coloured console view on/off. Env ``AGENT_TRACING_CONSOLE``; default on.
        console_level: Its level. Env ``AGENT_TRACING_CONSOLE_LEVEL``; default INFO.
        console_stream: ``stderr``, ``stdout`` or a text stream. Env
            ``AGENT_TRACING_CONSOLE_STREAM``; default stderr.
        color: Force colours on/off; default: on a terminal unless ``NO_COLOR`` is set. Env
            ``AGENT_TRACING_COLOR``.
        json: JSON view on/off. Env ``AGENT_TRACING_JSON``; default on.
        json_level: Its level. Env ``AGENT_TRACING_JSON_LEVEL``; default DEBUG.
        json_output: ``stdout``, ``stderr`` or a file path. Env ``AGENT_TRACING_JSON_OUTPUT``;
            default stdout.
        rotate: For a file: ``size`` or ``time`` rotation, or None. Env ``AGENT_TRACING_ROTATE``.
        max_bytes: Size rotation threshold (env ``AGENT_TRACING_MAX_BYTES``, e.g. ``10MB``).
        backup_count: Rotated files kept (env ``AGENT_TRACING_BACKUP_COUNT``; default 5).
        when: Time rotation unit as the stdlib's (env ``AGENT_TRACING_WHEN``; default midnight).
        levels: Per-logger levels, e.g. ``{"app.db": "DEBUG", "sqlalchemy.engine": "WARNING"}``.
            Env ``AGENT_TRACING_LEVELS`` as ``app.db=DEBUG,sqlalchemy.engine=WARNING``.
        queue_mode: Format and write in a background thread; the caller only enqueues. Env
            ``AGENT_TRACING_QUEUE``; default off.
        redact_keys: Keys redacted besides the defaults. Env ``AGENT_TRACING_REDACT_KEYS``
            (comma-separated).
        max_string: Characters kept of one string (env ``AGENT_TRACING_MAX_STRING``; 8192).
        max_items: Items kept of one list or mapping (env ``AGENT_TRACING_MAX_ITEMS``; 100).
        max_depth: Nesting kept (env ``AGENT_TRACING_MAX_DEPTH``; 8).

    Returns:
        The resolved settings.
    """

    def pick(value: Any, env: Any, default: Any) -> Any:
        return value if value is not None else (env if env is not None else default)

    env_levels = _env("AGENT_TRACING_LEVELS")
    env_keys = _env("AGENT_TRACING_REDACT_KEYS")
    env_bytes = _env("AGENT_TRACING_MAX_BYTES")
    settings = LoggingSettings(
        level=_level(pick(level, _env("AGENT_TRACING_LEVEL"), "INFO")),
        console=pick(console, _env_bool("AGENT_TRACING_CONSOLE"), True),
        console_level=_level(pick(console_level, _env("AGENT_TRACING_CONSOLE_LEVEL"), "INFO")),
        console_stream=pick(console_stream, _env("AGENT_TRACING_CONSOLE_STREAM"), "stderr"),
        color=pick(color, _env_bool("AGENT_TRACING_COLOR"), None),
        json=pick(json, _env_bool("AGENT_TRACING_JSON"), True),
        json_level=_level(pick(json_level, _env("AGENT_TRACING_JSON_LEVEL"), "DEBUG")),
        json_output=pick(json_output, _env("AGENT_TRACING_JSON_OUTPUT"), "stdout"),
        rotate=pick(rotate, _env("AGENT_TRACING_ROTATE"), None),
        max_bytes=pick(max_bytes, _parse_size(env_bytes) if env_bytes else None, 10 * 1024**2),
        backup_count=pick(backup_count, _env_int("AGENT_TRACING_BACKUP_COUNT"), 5),
        when=pick(when, _env("AGENT_TRACING_WHEN"), "midnight"),
        levels={
            name: _level(value)
            for name, value in (
                levels if levels is not None else _parse_levels(env_levels or "")
            ).items()
        },
        queue=pick(queue_mode, _env_bool("AGENT_TRACING_QUEUE"), False),
        redact_keys=tuple(
            redact_keys
            if redact_keys is not None
            else [k.strip() for k in (env_keys or "").split(",") if k.strip()]
        ),
        limits=Limits(
            max_string=pick(max_string, _env_int("AGENT_TRACING_MAX_STRING"), 8192),
            max_items=pick(max_items, _env_int("AGENT_TRACING_MAX_ITEMS"), 100),
            max_depth=pick(max_depth, _env_int("AGENT_TRACING_MAX_DEPTH"), 8),
        ),
    )
    if settings.rotate not in (None, "size", "time"):
        raise ValueError(f"rotate must be 'size', 'time' or None, not {settings.rotate!r}")
    with _State.lock:
        _uninstall()
        set_sanitizer(Sanitizer(Redactor(extra_keys=settings.redact_keys), settings.limits))
        targets = _build_handlers(settings)
        root = logging.getLogger()
        _State.root_level = root.level
        root.setLevel(settings.level)
        for name, number in settings.levels.items():
            logging.getLogger(name).setLevel(number)
        _State.leveled = list(settings.levels)
        if settings.queue:
            q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
            front = ContextQueueHandler(q)
            listener = logging.handlers.QueueListener(q, *targets, respect_handler_level=True)
            listener.start()
            _State.listener = listener
            _State.queue_handler = front
            installed: list[logging.Handler] = [front]
        else:
            installed = list(targets)
        for handler in installed:
            setattr(handler, _MARK, True)
            root.addHandler(handler)
        _State.handlers = installed
        _State.targets = targets
        _State.settings = settings
        if not _State.atexit_registered:
            atexit.register(shutdown_logging)
            _State.atexit_registered = True
    return settings


def _build_handlers(settings: LoggingSettings) -> list[logging.Handler]:
    handlers: list[logging.Handler] = []
    if settings.console:
        stream = _stream(settings.console_stream)
        console = ConsoleStreamHandler(stream)
        console.setFormatter(
            ConsoleFormatter(
                stream=stream,
                no_color=settings.color is False,
                force_color=settings.color is True,
            )
        )
        console.addFilter(ContextFilter())
        console.setLevel(settings.console_level)
        handlers.append(console)
    if settings.json:
        output = settings.json_output
        handler: logging.Handler
        if output in ("stdout", "stderr"):
            handler = JsonStreamHandler(_stream(output))
        else:
            directory = os.path.dirname(os.path.abspath(output))
            os.makedirs(directory, exist_ok=True)
            if settings.rotate == "size":
                handler = RotatingJsonFileHandler(
                    output, max_bytes=settings.max_bytes, backup_count=settings.backup_count
                )
            elif settings.rotate == "time":
                handler = TimedRotatingJsonFileHandler(
                    output, when=settings.when, backup_count=settings.backup_count
                )
            else:
                handler = JsonFileHandler(output)
        handler.setLevel(settings.json_level)
        handlers.append(handler)
    return handlers


def _uninstall() -> None:
    root = logging.getLogger()
    listener, _State.listener = _State.listener, None
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
    if listener is not None:
        listener.stop()  # drains what was accepted before closing the targets
    for handler in _State.targets:
        try:
            handler.flush()
            handler.close()
        except Exception:  # pragma: no cover - closing a broken stream
            pass
    for name in _State.leveled:
        logging.getLogger(name).setLevel(logging.NOTSET)
    if _State.root_level is not None:
        root.setLevel(_State.root_level)
        _State.root_level = None
    _State.handlers, _State.targets, _State.leveled = [], [], []
    _State.queue_handler = None


def flush_logging() -> None:
    """Write out every record accepted so far (drains the queue in queue mode)."""
    with _State.lock:
        listener = _State.listener
        if listener is not None and _State.queue_handler is not None:
            # Restart the listener: stop() drains the queue and joins the thread.
            listener.stop()
            listener.start()
        for handler in _State.targets:
            try:
                handler.flush()
            except Exception:  # pragma: no cover
                pass


def shutdown_logging() -> None:
    """Flush and remove what :func:`configure_logging` installed (runs at interpreter exit)."""
    with _State.lock:
        _uninstall()
        _State.settings = None


def _after_fork_in_child() -> None:
    # The listener thread does not exist in a forked child (a prefork worker process): records
    # would pile up unseen in the queue. Give the child its own queue and listener.
    _State.lock = threading.RLock()  # a parent thread may have held it at fork time
    if _State.listener is None or _State.queue_handler is None:
        return
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _State.queue_handler.queue = q
    listener = logging.handlers.QueueListener(q, *_State.targets, respect_handler_level=True)
    listener.start()
    _State.listener = listener


os.register_at_fork(after_in_child=_after_fork_in_child)
