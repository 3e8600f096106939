"""``configure_logging``: the one call that owns logging: views, levels, redaction, queue mode.

By default no event is written twice to one terminal or stream: the console view on a terminal,
JSON when not, both only when the JSON goes to a file. The root handlers others installed
(``logging.basicConfig()``, a ``dictConfig``) are taken off, as ``basicConfig(force=True)``
does, and put back by ``shutdown_logging``; ``keep_handlers=True`` keeps them, and a test
harness's capture (pytest's ``caplog``, ``capture_events``) always stays. Safe to repeat: each
call replaces the handlers the previous one installed. Everything new is built and checked first: a
call that fails (a bad argument, a file it cannot open) raises and leaves the previous setup
working. Explicit arguments win over environment variables, which win over the defaults; an
argument takes every form its environment variable takes (``max_bytes="64KB"``, ``json="off"``,
``backup_count="3"``, ``levels="app.db=DEBUG"``), and a value of neither form is a ``ValueError``
naming the argument or the variable.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TextIO

from agent_tracing.encoding import Limits, Sanitizer, set_sanitizer
from agent_tracing.formatters import ConsoleFormatter, JsonFormatter
from agent_tracing.handlers import (
    ConsoleStreamHandler,
    ContextQueueHandler,
    JsonFileHandler,
    JsonStreamHandler,
    RotatingJsonFileHandler,
    TimedRotatingJsonFileHandler,
)
from agent_tracing.logger import SITE_FREE
from agent_tracing.queueing import (
    DEFAULT_QUEUE_SIZE,
    DEFAULT_QUEUE_TIMEOUT,
    BoundedQueue,
    Listener,
    QueueStats,
    SiteFreeQueueHandler,
)
from agent_tracing.records import ContextFilter
from agent_tracing.redaction import Redactor
from agent_tracing.schema import (
    DEFAULT_CONTEXT_FIELDS,
    ENV_CONTEXT_FIELDS,
    declared_fields,
    parse_context_fields,
    set_context_fields,
)

__all__ = [
    "LoggingSettings",
    "QueueStats",
    "configure_logging",
    "configured_arguments",
    "flush_logging",
    "queue_stats",
    "shutdown_logging",
]

_MARK = "_agent_tracing_handler"
#: The logging module's own lock (``addHandler`` takes it): the handler swap takes it too.
_logging_lock: Any = getattr(logging, "_lock", None) or threading.RLock()


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off"))


def _as_bool(name: str, value: Any) -> bool | None:
    """A boolean option: a bool, or the text an environment variable holds (``1``/``0``,
    ``true``/``false``, ``yes``/``no``, ``on``/``off``)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{name} must be a bool or one of 1/0, true/false, yes/no, on/off: {value!r}")


def _as_int(name: str, value: Any) -> int | None:
    """An integer option: an int, or its decimal text (``_validate`` checks the range)."""
    if value is None or isinstance(value, int):
        return value  # a bool too: _validate rejects it with the range message
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{name} must be an integer, not {value!r}")


def _as_float(name: str, value: Any) -> float | None:
    """A number of seconds: an int or a float, or its decimal text (``_validate`` checks the
    range)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{name} must be a number of seconds, not {value!r}")


_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([KMG]?B)?", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def _as_size(name: str, value: Any) -> int | None:
    """A size in bytes: an int, or its text, bare or with ``B``, ``KB``, ``MB`` or ``GB``
    (binary multiples: ``64KB`` is 65536; ``1.5GB`` may have a fraction)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match:
            number, unit = match.groups()
            try:
                return int(float(number) * _SIZE_FACTORS[(unit or "").upper()])
            except OverflowError:  # more digits than a float holds: not a file size either
                pass
    raise ValueError(
        f"{name} must be a size in bytes such as 1048576, 64KB, 10MB or 1.5GB: {value!r}"
    )


def _env_option(name: str, parse: Callable[[str, Any], Any]) -> Any:
    return parse(name, _env(name))


def _level(value: int | str) -> int:
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)  # "10", as logging.setLevel does not take but an env var may hold
    number = logging.getLevelName(text.upper())
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


def _split_keys(text: str) -> list[str]:
    return [key.strip() for key in text.split(",") if key.strip()]


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
    #: Queue mode: records held at most (queued or being written).
    queue_size: int = DEFAULT_QUEUE_SIZE
    #: Queue mode: seconds a caller waits for room in a full queue before its record is dropped.
    queue_timeout: float = DEFAULT_QUEUE_TIMEOUT
    redact_keys: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    keep_handlers: bool = False
    #: The declared context fields in effect (see :mod:`agent_tracing.schema`).
    context_fields: tuple[str, ...] = DEFAULT_CONTEXT_FIELDS


class _State:
    handlers: list[logging.Handler] = []
    listener: Listener | None = None
    queue_handler: ContextQueueHandler | None = None
    targets: list[logging.Handler] = []
    leveled: list[str] = []
    root_level: int | None = None
    settings: LoggingSettings | None = None
    #: The arguments the call in effect was given (not None), for a later call to start from.
    arguments: dict[str, Any] | None = None
    lock = threading.RLock()
    atexit_registered = False
    #: Queue mode's SIGTERM handler and the handler it replaced, while installed.
    sigterm: tuple[Any, Any] | None = None
    #: Root handlers others installed, taken off by the call in effect, in their order: put back
    #: by shutdown_logging (or by a later call with keep_handlers).
    removed: list[logging.Handler] = []
    #: Others' root handlers the call in effect left in place, to tell the ones added since.
    left: list[logging.Handler] = []
    #: The context fields declared before a call declared its own: put back at shutdown.
    fields_before: tuple[str, ...] | None = None


def _stream(name: str | TextIO) -> TextIO:
    if not isinstance(name, str):
        return name
    return sys.stderr if name == "stderr" else sys.stdout


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:  # no isatty, or a closed stream's ValueError: not a terminal
        return False


def _views(
    console: bool | None, json: bool | None, output_given: bool, settings: LoggingSettings
) -> tuple[bool, bool]:
    """Which views to install: what was asked (argument or environment), the rule for the rest.

    JSON to a file: both views (they never meet). JSON to a stream: one view, since stdout and
    stderr usually end in the same terminal or the same collected log; naming a view's stream
    asks for that view, one view asked for alone gets the other the opposite way, and with
    nothing asked a terminal gets the console view and anything else (a pipe, a container)
    JSON.
    """
    to_file = settings.json_output not in ("stdout", "stderr")
    if json is None:
        if to_file or output_given:
            json = True
        elif console is not None:
            json = not console
        else:
            json = not _is_terminal(_stream(settings.console_stream))
    if console is None:
        console = to_file or not json
    return console, json


#: Set on a handler that captures for a test rather than writes output (capture_events'): the
#: handlers configure_logging takes off the root leave it there.
_CAPTURE = "_agent_tracing_capture"


def _is_capture(handler: logging.Handler) -> bool:
    """A test harness's handler (pytest's caplog, report capture and live log, or
    ``capture_events``'), which configure_logging leaves on the root: taking it off would break
    the user's tests, and pytest takes its own off itself."""
    if getattr(handler, _CAPTURE, False):
        return True
    return any(
        getattr(cls, "__module__", None) == "_pytest.logging" for cls in type(handler).__mro__
    )


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
    max_bytes: int | str | None = None,
    backup_count: int | None = None,
    when: str | None = None,
    levels: Mapping[str, int | str] | str | None = None,
    queue_mode: bool | None = None,
    queue_size: int | str | None = None,
    queue_timeout: float | str | None = None,
    redact_keys: Iterable[str] | None = None,
    max_string: int | None = None,
    max_items: int | None = None,
    max_depth: int | None = None,
    max_line: int | None = None,
    keep_handlers: bool | None = None,
    context_fields: Iterable[str] | str | None = None,
) -> LoggingSettings:
    """Set up logging for the whole process: console view, JSON view, levels, redaction.

    Which views, so that by default no event is written twice to one terminal or stream:

    - ``json_output`` a file path: both, the console view on stderr and JSON lines in the file.
    - Otherwise one view: the console view when the console stream (stderr) is a terminal, JSON
      lines on stdout when it is not (a pipe, a container, CI).
    - ``console`` / ``json`` (or their environment variables) win, and naming a view's stream
      (``json_output="stdout"``, ``console_stream=...``) asks for that view. One asked for alone
      gets the other the opposite way (``console=False`` is JSON only, ``json=False`` console
      only); both asked for are both written, on one terminal too if that is where they go.

    The root logger's handlers that others installed (``logging.basicConfig()``, a
    ``dictConfig``, a framework) are taken off, as ``basicConfig(force=True)`` does, but not
    closed: :func:`shutdown_logging` puts them back, and so does a later call with
    ``keep_handlers=True``. A handler added after this call, on top of its setup, stays when it
    is called again (as a Celery worker does at start). A test harness's capture is not output
    and always stays: pytest's handlers (``caplog``, the captured-log report, live logs) and
    :func:`agent_tracing.testing.capture_events`'. Handlers on other loggers are untouched.

    Args:
        level: Level of the root logger (what reaches the handlers at all). Env
            ``AGENT_TRACING_LEVEL``; default INFO.
        console: Coloured console view on/off. Env ``AGENT_TRACING_CONSOLE``; default: see above.
        console_level: Its level. Env ``AGENT_TRACING_CONSOLE_LEVEL``; default INFO.
        console_stream: ``stderr``, ``stdout`` or a text stream. Env
            ``AGENT_TRACING_CONSOLE_STREAM``; default stderr.
        color: Force colours on/off; default: on a terminal unless ``NO_COLOR`` is set. Env
            ``AGENT_TRACING_COLOR``.
        json: JSON view on/off. Env ``AGENT_TRACING_JSON``; default: see above.
        json_level: Its level. Env ``AGENT_TRACING_JSON_LEVEL``; default DEBUG.
        json_output: ``stdout``, ``stderr`` or a file path. Env ``AGENT_TRACING_JSON_OUTPUT``;
            default stdout.
        rotate: For a file: ``size`` or ``time`` rotation, or None. Env ``AGENT_TRACING_ROTATE``.
        max_bytes: Size rotation threshold: bytes, or a size such as ``64KB``, ``10MB``,
            ``1.5GB`` (binary multiples). Env ``AGENT_TRACING_MAX_BYTES``; default 10MB.
        backup_count: Rotated files kept (env ``AGENT_TRACING_BACKUP_COUNT``; default 5).
        when: Time rotation unit as the stdlib's (env ``AGENT_TRACING_WHEN``; default midnight).
        levels: Per-logger levels, e.g. ``{"app.db": "DEBUG", "sqlalchemy.engine": "WARNING"}``.
            Env ``AGENT_TRACING_LEVELS`` as ``app.db=DEBUG,sqlalchemy.engine=WARNING``.
        queue_mode: Format and write in a background thread; the caller only enqueues. Env
            ``AGENT_TRACING_QUEUE``; default off. Configured from the main thread, it also
            handles SIGTERM: the queue is written out, then the previous handler runs (or the
            process ends by SIGTERM, as by default; an ignored SIGTERM stays ignored).
        queue_size: Queue mode's bound: records held at most, queued or being written. Env
            ``AGENT_TRACING_QUEUE_SIZE``; default 10000.
        queue_timeout: Seconds a call waits for room in a full queue; then its record is
            dropped, counted (:func:`queue_stats`) and reported by a ``logging.dropped``
            WARNING line. ``0`` never waits. Env ``AGENT_TRACING_QUEUE_TIMEOUT``; default 1.
        redact_keys: Keys redacted besides the defaults. Env ``AGENT_TRACING_REDACT_KEYS``
            (comma-separated).
        max_string: Characters kept of one string (env ``AGENT_TRACING_MAX_STRING``; 8192).
        max_items: Items kept of one list or mapping (env ``AGENT_TRACING_MAX_ITEMS``; 100).
        max_depth: Nesting kept (env ``AGENT_TRACING_MAX_DEPTH``; 8).
        max_line: The budget of one line's ``data`` in characters of text (env
            ``AGENT_TRACING_MAX_LINE``; 65536): past it, strings are cut and items left out.
        keep_handlers: Keep the root handlers others installed (env
            ``AGENT_TRACING_KEEP_HANDLERS``; default off: they are taken off until shutdown).
        context_fields: The context fields of the schema, replacing the default ``user_id``,
            ``strategy_id``, ``backtest_id``: names (``["tenant_id", "user_id"]``) or
            comma-separated text. Each is a top-level key of every line, in this order (see
            :mod:`agent_tracing.schema`). Env ``AGENT_TRACING_CONTEXT_FIELDS``; not given, the
            declaration in effect stays. :func:`shutdown_logging` puts back the one before.

    Returns:
        The resolved settings.

    Raises:
        ValueError: An argument or environment variable is invalid.
        OSError: The JSON file cannot be created or opened. In both cases the message says
            what failed, and the setup installed before stays in place.
    """
    # Only the parameters are local here: what the caller chose, as opposed to the defaults.
    given = {name: value for name, value in locals().items() if value is not None}

    def pick(value: Any, env: Any, default: Any) -> Any:
        return value if value is not None else (env if env is not None else default)

    try:
        # Arguments take every form the environment variables take (sizes, numbers and booleans
        # as text, levels and keys as comma-separated text), and the same checks name the option.
        env_levels = _env("AGENT_TRACING_LEVELS")
        env_keys = _env("AGENT_TRACING_REDACT_KEYS")
        fields_asked = pick(context_fields, _env(ENV_CONTEXT_FIELDS), None)
        declared = declared_fields() if fields_asked is None else parse_context_fields(fields_asked)
        if isinstance(levels, str):
            levels = _parse_levels(levels)
        if isinstance(redact_keys, str):
            redact_keys = _split_keys(redact_keys)
        console_asked = pick(
            _as_bool("console", console), _env_option("AGENT_TRACING_CONSOLE", _as_bool), None
        )
        json_asked = pick(_as_bool("json", json), _env_option("AGENT_TRACING_JSON", _as_bool), None)
        output_asked = pick(json_output, _env("AGENT_TRACING_JSON_OUTPUT"), None)
        stream_asked = pick(console_stream, _env("AGENT_TRACING_CONSOLE_STREAM"), None)
        if console_asked is None and stream_asked is not None:
            console_asked = True  # naming the console view's stream asks for that view
        settings = LoggingSettings(
            level=_level(pick(level, _env("AGENT_TRACING_LEVEL"), "INFO")),
            console=False,  # decided below, from what was asked and where the views go
            console_level=_level(pick(console_level, _env("AGENT_TRACING_CONSOLE_LEVEL"), "INFO")),
            console_stream=pick(stream_asked, None, "stderr"),
            color=pick(
                _as_bool("color", color), _env_option("AGENT_TRACING_COLOR", _as_bool), None
            ),
            json=False,
            json_level=_level(pick(json_level, _env("AGENT_TRACING_JSON_LEVEL"), "DEBUG")),
            json_output=pick(output_asked, None, "stdout"),
            rotate=pick(rotate, _env("AGENT_TRACING_ROTATE"), None),
            max_bytes=pick(
                _as_size("max_bytes", max_bytes),
                _env_option("AGENT_TRACING_MAX_BYTES", _as_size),
                10 * 1024**2,
            ),
            backup_count=pick(
                _as_int("backup_count", backup_count),
                _env_option("AGENT_TRACING_BACKUP_COUNT", _as_int),
                5,
            ),
            when=pick(when, _env("AGENT_TRACING_WHEN"), "midnight"),
            levels={
                name: _level(value)
                for name, value in (
                    levels if levels is not None else _parse_levels(env_levels or "")
                ).items()
            },
            queue=pick(
                _as_bool("queue_mode", queue_mode),
                _env_option("AGENT_TRACING_QUEUE", _as_bool),
                False,
            ),
            queue_size=pick(
                _as_int("queue_size", queue_size),
                _env_option("AGENT_TRACING_QUEUE_SIZE", _as_int),
                DEFAULT_QUEUE_SIZE,
            ),
            queue_timeout=pick(
                _as_float("queue_timeout", queue_timeout),
                _env_option("AGENT_TRACING_QUEUE_TIMEOUT", _as_float),
                DEFAULT_QUEUE_TIMEOUT,
            ),
            redact_keys=tuple(
                redact_keys if redact_keys is not None else _split_keys(env_keys or "")
            ),
            keep_handlers=pick(
                _as_bool("keep_handlers", keep_handlers),
                _env_option("AGENT_TRACING_KEEP_HANDLERS", _as_bool),
                False,
            ),
            limits=Limits(
                max_string=pick(
                    _as_int("max_string", max_string),
                    _env_option("AGENT_TRACING_MAX_STRING", _as_int),
                    8192,
                ),
                max_items=pick(
                    _as_int("max_items", max_items),
                    _env_option("AGENT_TRACING_MAX_ITEMS", _as_int),
                    100,
                ),
                max_depth=pick(
                    _as_int("max_depth", max_depth),
                    _env_option("AGENT_TRACING_MAX_DEPTH", _as_int),
                    8,
                ),
                max_line=pick(
                    _as_int("max_line", max_line),
                    _env_option("AGENT_TRACING_MAX_LINE", _as_int),
                    65536,
                ),
            ),
        )
        settings.context_fields = declared
        _validate(settings)
        settings.console, settings.json = _views(
            console_asked, json_asked, output_asked is not None, settings
        )
        if redact_keys is not None:
            given["redact_keys"] = settings.redact_keys  # a one-shot iterable is consumed now
        if levels is not None:
            given["levels"] = dict(levels)  # the caller may change its mapping afterwards
        if context_fields is not None:
            given["context_fields"] = declared
        sanitizer = Sanitizer(Redactor(extra_keys=settings.redact_keys), settings.limits)
        targets = _build_handlers(settings)
    except Exception as error:
        # Nothing has been changed yet: the setup in place keeps working.
        raise _kept_setup_error(error) from error
    with _State.lock:
        if declared != declared_fields():
            if _State.fields_before is None:
                _State.fields_before = declared_fields()
            set_context_fields(declared)
        _install(settings, sanitizer, targets)
        _State.arguments = given
    return settings


def _validate(settings: LoggingSettings) -> None:
    if settings.rotate not in (None, "size", "time"):
        raise ValueError(f"rotate must be 'size', 'time' or None, not {settings.rotate!r}")
    when = settings.when
    if settings.rotate == "time" and (
        not isinstance(when, str)
        or when.upper() not in ("S", "M", "H", "D", "MIDNIGHT", *(f"W{d}" for d in range(7)))
    ):
        # The stdlib checks this only after it has created the file.
        raise ValueError(f"when must be S, M, H, D, midnight or W0-W6, not {when!r}")
    for name in ("max_bytes", "backup_count"):
        value = getattr(settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, not {value!r}")
    size = settings.queue_size
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"queue_size must be an int >= 1, not {size!r}")
    timeout = settings.queue_timeout
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise ValueError(f"queue_timeout must be a number of seconds >= 0, not {timeout!r}")
    for name in ("max_string", "max_items", "max_depth", "max_line"):
        value = getattr(settings.limits, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, not {value!r}")
    if not isinstance(settings.json_output, str) or not settings.json_output:
        raise ValueError(
            f"json_output must be a path, 'stdout' or 'stderr', not {settings.json_output!r}"
        )
    stream = settings.console_stream
    if isinstance(stream, str) and stream not in ("stdout", "stderr"):
        raise ValueError(f"console_stream must be 'stdout', 'stderr' or a stream, not {stream!r}")


def _kept_setup_error(error: Exception) -> Exception:
    """The same kind of error, saying that the previous setup is still the one in place."""
    message = f"configure_logging failed: {error}; the previous logging setup stays in place"
    if isinstance(error, OSError):
        return type(error)(error.errno, message)
    try:
        return type(error)(message)
    except Exception:  # an exception type that takes other arguments
        return ValueError(message)


def _install(
    settings: LoggingSettings, sanitizer: Sanitizer, targets: list[logging.Handler]
) -> None:
    """Swap the handlers built for ``settings`` in for the ones installed before (under the lock).

    The new handlers are on the root logger before the old ones leave it, so a record logged
    meanwhile by another thread is written (at worst by both) rather than left to the stdlib's
    last-resort handler, which writes it unredacted.
    """
    root = logging.getLogger()
    listener: Listener | None = None
    front: ContextQueueHandler | None = None
    if settings.queue:
        q = BoundedQueue(settings.queue_size, settings.queue_timeout)
        # Behind the JSON view only, the caller's site is never shown: not looked up either.
        site_free = all(
            type(target) in SITE_FREE
            and type(target.formatter) is JsonFormatter
            and not target.filters
            for target in targets
        )
        front = (SiteFreeQueueHandler if site_free else ContextQueueHandler)(q)
        listener = Listener(q, *targets, respect_handler_level=True)
        listener.start()
        installed: list[logging.Handler] = [front]
    else:
        installed = list(targets)
    for handler in installed:
        setattr(handler, _MARK, True)
    _uninstall_sigterm()
    set_sanitizer(sanitizer)
    if _State.root_level is None:
        _State.root_level = root.level
    root.setLevel(settings.level)
    for name in _State.leveled:
        if name not in settings.levels:
            logging.getLogger(name).setLevel(logging.NOTSET)
    for name, number in settings.levels.items():
        logging.getLogger(name).setLevel(number)
    old_listener, old_targets = _State.listener, _State.targets
    with _logging_lock:
        others = [h for h in root.handlers if not getattr(h, _MARK, False)]
        if _State.settings is None or any(h not in root.handlers for h in _State.handlers):
            # Taking over: never configured, shut down, or ours displaced since (a dictConfig),
            # in which case that setup replaced the handlers we had taken off.
            _State.removed, added_since = [], []
        else:
            # Added on top of the setup in place, on purpose: a later call leaves them.
            added_since = [h for h in others if h not in _State.left]
        if settings.keep_handlers:
            # Each call as if it were the first: what an earlier call took off comes back.
            kept = [*others, *(h for h in _State.removed if h not in others)]
            _State.removed = []
        else:
            kept = [h for h in others if _is_capture(h) or h in added_since]
            _State.removed += [h for h in others if h not in kept and h not in _State.removed]
        # One assignment: a thread iterating the handlers sees the old list or the new one.
        root.handlers = [*kept, *installed]
        _State.left = kept
    _State.listener, _State.queue_handler = listener, front
    _State.handlers, _State.targets = installed, targets
    _State.leveled = list(settings.levels)
    _State.settings = settings
    _close(old_listener, old_targets)
    if listener is not None:
        _install_sigterm()
    if not _State.atexit_registered:
        atexit.register(shutdown_logging)
        _State.atexit_registered = True


def _build_handlers(settings: LoggingSettings) -> list[logging.Handler]:
    handlers: list[logging.Handler] = []
    try:
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
            handler = _json_handler(settings)
            handler.setLevel(settings.json_level)
            handlers.append(handler)
    except BaseException:
        for built in handlers:
            _close_handler(built)
        raise
    return handlers


def _json_handler(settings: LoggingSettings) -> logging.Handler:
    output = settings.json_output
    if output in ("stdout", "stderr"):
        return JsonStreamHandler(_stream(output))
    directory = os.path.dirname(os.path.abspath(output))
    os.makedirs(directory, exist_ok=True)
    if settings.rotate == "size":
        return RotatingJsonFileHandler(
            output, max_bytes=settings.max_bytes, backup_count=settings.backup_count
        )
    if settings.rotate == "time":
        return TimedRotatingJsonFileHandler(
            output, when=settings.when, backup_count=settings.backup_count
        )
    return JsonFileHandler(output)


def _close_handler(handler: logging.Handler) -> None:
    try:
        handler.flush()
        handler.close()
    except Exception:  # pragma: no cover - closing a broken stream
        pass


def _close(listener: Listener | None, targets: list[logging.Handler]) -> None:
    """Stop a listener (it drains what was accepted) and close the handlers behind it.

    The drain waits while the listener writes, and gives up after ``_DRAIN_STALL`` seconds
    without progress (a stuck sink): the handlers are then left open to the listener, whose
    daemon thread never keeps the process alive.
    """
    if listener is not None and not listener.stop(_DRAIN_STALL):
        _forget(listener.handlers)
        return
    for handler in targets:
        _close_handler(handler)


def _forget(handlers: Iterable[logging.Handler]) -> None:
    """Take handlers a stuck listener may be holding off the stdlib's exit list: its
    ``logging.shutdown`` takes each handler's lock, which would keep the process alive."""
    stuck = set(handlers)
    refs: Any = getattr(logging, "_handlerList", None)
    if refs is None:  # pragma: no cover - another logging module
        return
    with _logging_lock:
        refs[:] = [ref for ref in refs if ref() not in stuck]


def _uninstall() -> None:
    root = logging.getLogger()
    with _logging_lock:
        others = [h for h in root.handlers if not getattr(h, _MARK, False)]
        # Others' handlers come back as they were (not closed), after any added since.
        root.handlers = [*others, *(h for h in _State.removed if h not in others)]
        _State.removed, _State.left = [], []
    # The listener stays known, and the SIGTERM handler in place, until the queue is drained: a
    # SIGTERM meanwhile (a process slow to exit) drains it too before the process ends.
    _close(_State.listener, _State.targets)
    _State.listener = None
    _uninstall_sigterm()
    for name in _State.leveled:
        logging.getLogger(name).setLevel(logging.NOTSET)
    if _State.root_level is not None:
        root.setLevel(_State.root_level)
        _State.root_level = None
    _State.handlers, _State.targets, _State.leveled = [], [], []
    _State.queue_handler = None


def configured_arguments() -> dict[str, Any] | None:
    """The keyword arguments of the :func:`configure_logging` call in effect, or None.

    Only the arguments the caller gave (not None) are there, so a framework that sets up logging
    later (a Celery worker) can keep the caller's choices and fill in only what was left out.
    None when logging is not configured (never, or since :func:`shutdown_logging`).
    """
    with _State.lock:
        return None if _State.arguments is None else dict(_State.arguments)


def flush_logging() -> None:
    """Write out every record accepted so far (in queue mode: waits for the listener, as long
    as it makes progress; it gives up after ``_DRAIN_STALL`` seconds without any)."""
    with _State.lock:
        listener = _State.listener
        if listener is not None and _State.queue_handler is not None:
            listener.queue.wait_written(_DRAIN_STALL)
        for handler in _State.targets:
            try:
                handler.flush()
            except Exception:  # pragma: no cover
                pass


def queue_stats() -> QueueStats | None:
    """Queue mode's counters (records accepted, written, dropped, the depth and its high-water
    mark, the bound), or None when queue mode is not in effect. A forked child counts its own."""
    listener = _State.listener
    return None if listener is None else listener.queue.stats()


def shutdown_logging() -> None:
    """Flush and remove what :func:`configure_logging` installed, and put back the root
    handlers it took off (runs at interpreter exit)."""
    with _State.lock:
        _uninstall()
        _State.settings = None
        _State.arguments = None
        if _State.fields_before is not None:
            set_context_fields(_State.fields_before)
            _State.fields_before = None


# -- SIGTERM in queue mode -------------------------------------------------------------------
# A process ended by SIGTERM's default action runs no atexit hook: the records still queued for
# the listener thread would be lost. Queue mode therefore handles SIGTERM itself: it drains the
# queue, then does what was there before (calls the previous Python handler, or restores the
# default action and raises the signal again, so the process still ends by SIGTERM).

#: How long the handler waits for a listener that writes nothing: one stuck on a lock the
#: interrupted main thread holds must not keep the process from ending. A listener that is still
#: writing is waited for, however long the queue (a producer that outpaced it under load).
_DRAIN_STALL = 10.0
#: How often the drain looks at the listener's progress.
_DRAIN_POLL = 0.2


def _drain(stall: float) -> None:
    """Write what is queued and flush the handlers; give up only when the listener has handled
    nothing for ``stall`` seconds."""
    lock = _State.lock
    if not lock.acquire(timeout=stall):
        return
    try:
        listener = _State.listener
        if listener is not None:
            # Records queued after this (another thread still logging) wait for that thread.
            listener.queue.wait_written(stall)
        for handler in _State.targets:
            try:
                handler.flush()
            except Exception:  # pragma: no cover - a broken stream
                pass
    finally:
        lock.release()


def _sigterm_handler(previous: Any) -> Callable[[int, FrameType | None], None]:
    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        try:
            _drain(_DRAIN_STALL)
        except Exception:  # pragma: no cover - logging never stands in the way of the exit
            pass
        if callable(previous):
            previous(signum, frame)
            return
        # The default action: end the process by this signal, as it would have without us.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    return on_sigterm


def _install_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set a handler
    try:
        previous = signal.getsignal(signal.SIGTERM)
        # Ignored stays ignored; a handler set outside Python (None) cannot be chained to.
        if previous is None or previous == signal.SIG_IGN:
            return
        handler = _sigterm_handler(previous)
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # pragma: no cover - signals unavailable here
        return
    _State.sigterm = (handler, previous)


def _uninstall_sigterm() -> None:
    installed = _State.sigterm
    if installed is None or threading.current_thread() is not threading.main_thread():
        # From another thread ours stays: it drains (a no-op once nothing is installed) and
        # then does what the previous handler did.
        return
    _State.sigterm = None
    handler, previous = installed
    try:
        if signal.getsignal(signal.SIGTERM) is handler:  # not replaced since by someone else
            signal.signal(signal.SIGTERM, previous)
    except (ValueError, OSError):  # pragma: no cover
        pass


def _after_fork_in_child() -> None:
    # The listener thread does not exist in a forked child (a prefork worker process): records
    # would pile up unseen in the queue. Give the child its own queue and listener.
    _State.lock = threading.RLock()  # a parent thread may have held it at fork time
    if _State.listener is None or _State.queue_handler is None:
        return
    parent = _State.listener.queue
    q = BoundedQueue(parent.size, parent.timeout)
    _State.queue_handler.queue = q
    listener = Listener(q, *_State.targets, respect_handler_level=True)
    listener.start()
    _State.listener = listener


os.register_at_fork(after_in_child=_after_fork_in_child)
