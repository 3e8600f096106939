"""The two views of a record: one JSON object per line, and a coloured line for people.

Both read the same fields (:func:`schema_fields`), so a value is redacted and bounded the same way
in each. Both are importable classes that ``logging.config.dictConfig`` can build; options after
``fmt`` are keyword-only.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO, cast

import colorlog
import orjson
from pythonjsonlogger.core import BaseJsonFormatter

from agent_tracing import encoding as _encoding
from agent_tracing import schema as _schema
from agent_tracing.context import EXTRA_KEY
from agent_tracing.encoding import (
    _INT_MAX,
    _INT_MIN,
    Sanitizer,
    _type_name,
    bounded_int,
    get_sanitizer,
    safe_repr,
)
from agent_tracing.records import (
    ATTR_CONTEXT,
    ATTR_DATA,
    ATTR_EVENT,
    ATTR_EXCEPTION,
    ATTR_FIELDS,
    ATTR_MESSAGE,
    adopt_extra,
    exception_fields,
    format_timestamp,
    level_name,
    record_context,
)

__all__ = [
    "ConsoleFormatter",
    "JsonFormatter",
    "escape_controls",
    "schema_fields",
    "short_correlation_id",
]

_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


def _message(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:
        # A %-format that does not match its arguments: keep both, never lose the line.
        return f"{safe_repr(record.msg)} (unformattable with args {safe_repr(record.args)})"
    return message if type(message) is str else safe_repr(message)


def _tail(text: str, sanitizer: Sanitizer) -> str:
    # A traceback's last lines say what failed: keep the tail when it is too long.
    limit = sanitizer.limits.max_string
    if len(text) > limit:
        text = f"…[truncated {len(text) - limit} chars]{text[-limit:]}"
    return sanitizer.redactor.redact_text(text)


def _clean_value(value: Any, san: Sanitizer) -> Any:
    if value is None:
        return value
    cls = value.__class__
    if cls is int:
        return value if _INT_MIN <= value <= _INT_MAX else bounded_int(value)
    if cls is str:
        return san._texts.get(value) or san.text(value)
    return san.clean(value)


def _name_text(value: Any, san: Sanitizer) -> str | None:
    """A logger name or event, redacted and bounded like the message (cached when short)."""
    if value.__class__ is str:
        return san._texts.get(value) or san.text(value)
    if value is None:
        return None
    try:
        text = str(value)
    except Exception:
        text = safe_repr(value)
    return san.text(text if text.__class__ is str else safe_repr(value))


# The bound context is one mapping shared by every line logged inside a binding: its cleaned
# values are computed once and reused while the same mapping comes back. One entry, swapped
# whole, holding a reference to the mapping so that its identity cannot be reused.
_ctx_cache: tuple[Any, Any, tuple[Any, ...]] = (None, None, ())


def _line_builder(names: tuple[str, ...]) -> Callable[..., dict[str, Any]]:
    """Compile the function that makes a line's dict, the declared fields' keys written out
    (one dict display of constant keys: built at once, at its final size)."""
    declared = "".join(f"{name!r}: declared[{index}], " for index, name in enumerate(names))
    source = (
        "def build_line(timestamp, level, cid, component, declared, message, data, logger,"
        " event, span_id, parent_span_id):\n"
        "    return {'timestamp': timestamp, 'level': level, 'correlation_id': cid,"
        f" 'component': component, {declared}'message': message, 'data': data,"
        " 'logger': logger, 'event': event, 'span_id': span_id,"
        " 'parent_span_id': parent_span_id}\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "<agent_tracing line>", "exec"), namespace)  # names are identifiers
    return cast(Callable[..., dict[str, Any]], namespace["build_line"])


_build_line = _line_builder(_schema.declared_fields())
#: Where each declared field sits in the cached values.
_declared_index = {name: index for index, name in enumerate(_schema.declared_fields())}


def _forget_context_values() -> None:
    """Follow a change of the schema: the line builder, the cache (its entry holds the old
    schema's fields) and the last-resort line."""
    global _ctx_cache, _LAST_RESORT_LINE, _build_line, _declared_index
    names = _schema.declared_fields()
    _build_line = _line_builder(names)
    _declared_index = {name: index for index, name in enumerate(names)}
    _ctx_cache = (None, None, ())
    _LAST_RESORT_LINE = _last_resort_line()


def _cache_context_values(ctx: Mapping[str, Any], san: Sanitizer) -> tuple[Any, ...]:
    """Clean ``ctx``'s values and keep them as the cache entry (``schema_fields`` reads the
    cache first): ``(correlation_id, component, (declared fields' values), span_id,
    parent_span_id, extra data)``."""
    global _ctx_cache
    get = ctx.get
    values = (
        _clean_value(get("correlation_id"), san),
        _clean_value(get("component"), san),
        tuple([_clean_value(get(key), san) for key in _schema.declared_fields()]),
        get("span_id"),
        get("parent_span_id"),
        get(EXTRA_KEY),
    )
    _ctx_cache = (ctx, san, values)
    return values


def _line_fields(
    values: tuple[Any, ...], fields: Mapping[str, Any], san: Sanitizer
) -> tuple[Any, ...]:
    """``values`` with a line's own fields in place of the context's (they win)."""
    cid, component, declared, span_id, parent_span_id, extra = values
    own: list[Any] | None = None
    positions = _declared_index
    for key, value in fields.items():
        clean = _clean_value(value, san)
        if key == "correlation_id":
            cid = clean
        elif key == "component":
            component = clean
        elif key == "span_id":
            span_id = clean
        elif key == "parent_span_id":
            parent_span_id = clean
        elif key in positions:
            if own is None:
                own = list(declared)
            own[positions[key]] = clean
    return cid, component, declared if own is None else tuple(own), span_id, parent_span_id, extra


def _keep_own_keys(merged: dict[str, Any], call: object, limit: int) -> dict[str, Any]:
    """Past ``limit`` keys of bound fields plus ``data``, the bound ones are left out first (the
    last bound first) and counted in ``_truncated_keys``; the order is kept."""
    own = call if isinstance(call, Mapping) else {}
    room = limit - sum(1 for key in merged if key in own) - 1
    if room < 0:
        return {key: value for key, value in merged.items() if key in own}
    bound = [key for key in merged if key not in own]
    cut = set(bound[room:])
    out = {key: value for key, value in merged.items() if key not in cut}
    out["_truncated_keys"] = len(cut)
    return out


def schema_fields(record: logging.LogRecord, sanitizer: Sanitizer | None = None) -> dict[str, Any]:
    """Return the schema fields of ``record``: redacted, bounded, JSON-safe, in schema order."""
    san = sanitizer if sanitizer is not None else _encoding._active
    attrs = record.__dict__
    try:  # our logger's records carry all four; a foreign record lacks some
        ctx = attrs[ATTR_CONTEXT]
        fields = attrs[ATTR_FIELDS]
        data: Any = attrs[ATTR_DATA]
        event = attrs[ATTR_EVENT]
    except KeyError:
        if ATTR_FIELDS not in attrs:  # a foreign record no handler of ours has seen: its extra
            adopt_extra(record)
        ctx = attrs.get(ATTR_CONTEXT)
        fields = attrs.get(ATTR_FIELDS)
        data = attrs.get(ATTR_DATA)
        event = attrs.get(ATTR_EVENT)
    if ctx is None:
        ctx = record_context(record)
    msg = record.msg
    if msg.__class__ is not str or record.args:
        # Our logger rendered it already (at call time, for the other handlers' sake); a filter
        # that replaced ``msg`` or ``args`` since then is honoured.
        rendered = attrs.get(ATTR_MESSAGE)
        if rendered is not None and rendered[0] is msg and rendered[1] is record.args:
            msg = rendered[2]
        else:
            msg = _message(record)
    level = record.levelname
    out = line_fields(
        record.created,
        level if level in _LEVELS else level_name(record),
        record.name,
        msg,
        ctx,
        fields,
        data,
        event,
        san,
    )
    if record.exc_info or record.exc_text or ATTR_EXCEPTION in attrs:
        _add_exception(out, record, san)
    if record.stack_info:
        stack = {"stack_info": _tail(record.stack_info, san)}
        out["data"] = {**(out["data"] or {}), **stack}
    return out


def line_fields(
    created: float,
    level: str,
    raw_name: Any,
    msg: str,
    ctx: Mapping[str, Any],
    fields: Mapping[str, Any] | None,
    data: Any,
    event: Any,
    san: Sanitizer,
) -> dict[str, Any]:
    """The line of one call, from what a record holds (``schema_fields``) or what the logger's
    fast path has without a record: redacted, bounded, JSON-safe, in schema order (no
    ``exception``: the caller adds it)."""
    cached = _ctx_cache
    values = cached[2] if cached[0] is ctx and cached[1] is san else _cache_context_values(ctx, san)
    if fields:
        # Per-line fields win over the context; a caller tracking its own tree (a callback
        # handler) places one line in its span this way.
        values = _line_fields(values, fields, san)
    cid, component, declared, span_id, parent_span_id, extra = values

    if extra:
        try:
            call, data = data, {**extra, **data} if isinstance(data, Mapping) else {**extra}
            if len(data) > san.limits.max_items:  # cut bound keys first, keep the call's own
                data = _keep_own_keys(data, call, san.limits.max_items)
        except Exception:  # a mapping whose iteration raises: the context's data stays
            data = {**extra, "_unreadable_data": _type_name(data)}
    if data is not None:
        if data.__class__ is dict or isinstance(data, Mapping):
            data = san.clean_mapping(data)
        else:
            data = {"value": san.clean(data)}

    texts = san._texts
    # Redacted and bounded like the message; a repeated name: a lookup.
    name = (texts.get(raw_name) if raw_name.__class__ is str else None) or _name_text(raw_name, san)
    return _build_line(
        format_timestamp(created),
        level,
        cid,
        name if component is None else component,
        declared,
        texts.get(msg) or san.text(msg),
        data,
        name,
        event if event is None else _name_text(event, san),
        span_id,
        parent_span_id,
    )


def _add_exception(out: dict[str, Any], record: logging.LogRecord, san: Sanitizer) -> None:
    exc = record.__dict__.get(ATTR_EXCEPTION)
    if exc is None:
        exc = exception_fields(record.exc_info, record.exc_text)
        if exc is not None and record.exc_info and not record.exc_text:
            record.exc_text = exc["traceback"]  # formatted once, shared by every handler
    if exc is not None:
        # Ours, or a mapping a caller passed as ``exc_info``: any of the three may be missing.
        kind, message, text = exc.get("type"), exc.get("message"), exc.get("traceback")
        out["exception"] = {
            "type": None if kind is None else san.text(str(kind)),
            "message": None if message is None else san.text(str(message)),
            "traceback": None if text is None else _tail(str(text), san),
        }


def _fallback_line(record: logging.LogRecord, error: BaseException) -> dict[str, Any]:
    """The line written when building the real one failed: the schema, with what is certain."""
    try:
        created = float(record.created)
    except Exception:
        created = 0.0
    san = get_sanitizer()
    name = _name_text(getattr(record, "name", ""), san)
    return dict.fromkeys(_schema.line_keys()) | {
        "timestamp": format_timestamp(created),
        "level": level_name(record) if isinstance(record.levelno, int) else "ERROR",
        "component": name,
        "message": san.text(safe_repr(getattr(record, "msg", None), 2000)),
        "data": {"_log_error": san.text(f"{type(error).__name__}: {safe_repr(error, 500)}")},
        "logger": name,
    }


# orjson writes these raw; Python's ``str.splitlines()`` (and some viewers) break a line on them:
# DEL, the C1 controls (U+0080-U+009F, among them NEL U+0085) and U+2028/U+2029. In UTF-8 they are
# b"\x7f", b"\xc2\x80"-b"\xc2\x9f" and b"\xe2\x80\xa8"/b"\xe2\x80\xa9", and those bytes occur in
# orjson's output only inside strings, where a ``\uXXXX`` escape is the same text.
_LINE_BREAKING = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]")


def _escape_match(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode("utf-8"))


def _escape_line_breaks(line: bytes) -> bytes:
    """Return ``line`` (orjson's output) with DEL, C1 and U+2028/U+2029 as JSON escapes."""
    # Three byte searches (memchr) for the lead bytes; the regex runs only when one is there.
    # Int needles: ``bytes in bytes`` first tries the needle as an int and raises and clears a
    # TypeError, which costs more than the search.
    if 0x7F in line or 0xC2 in line or 0xE2 in line:
        return _LINE_BREAKING.sub(_escape_match, line)
    return line


def _strict(value: Any) -> Any:
    """``value`` with what strict JSON cannot hold replaced: non-finite floats become null (as
    orjson writes them), ints past the stdlib's digit limit become bounded text."""
    cls = value.__class__
    if cls is dict:
        return {key: _strict(item) for key, item in value.items()}
    if cls is list or cls is tuple:
        return [_strict(item) for item in value]
    if cls is float:
        return value if math.isfinite(value) else None
    if cls is int and not _INT_MIN <= value <= _INT_MAX:
        return bounded_int(value)
    return value


def _dumps(payload: dict[str, Any], option: int = 0) -> bytes:
    try:
        return _escape_line_breaks(orjson.dumps(payload, option=option))
    except TypeError:
        # Lone surrogates or the like: the stdlib encoder escapes what orjson refuses (and, with
        # ``ensure_ascii``, every non-ASCII character and DEL). Its NaN/Infinity are not JSON.
        text = json.dumps(_strict(payload), ensure_ascii=True, default=safe_repr, allow_nan=False)
        return (text + "\n" if option else text).encode("ascii")


_orjson_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


def _last_resort_line() -> bytes:
    """The line written when even the fallback line fails: the schema's keys, nulls, an error."""
    return orjson.dumps(
        dict.fromkeys(_schema.line_keys())
        | {"timestamp": "1970-01-01T00:00:00.000Z", "level": "ERROR", "message": "<log error>"},
        option=orjson.OPT_APPEND_NEWLINE,
    )


_LAST_RESORT_LINE = _last_resort_line()
_schema.on_change(_forget_context_values)


class JsonFormatter(BaseJsonFormatter):
    """One JSON object per line in the schema (see :mod:`agent_tracing.schema`).

    Built on python-json-logger's ``BaseJsonFormatter``: :meth:`format` calls the overridable steps
    ``add_fields`` -> ``process_log_record`` -> ``jsonify_log_record``. It never raises: a record
    that cannot be built becomes a line with ``data._log_error``.

    Args:
        fmt: Accepted for ``dictConfig`` compatibility; the schema is fixed.
        sanitizer: Redaction and size limits (default: the configured one).
    """

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: str = "%",
        validate: bool = True,
        *,
        sanitizer: Sanitizer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fmt, datefmt, style, validate, **kwargs)
        self.sanitizer = sanitizer
        cls = type(self)
        # Subclasses that override a step get it called; the plain formatter skips the layers.
        self._plain = (
            cls.add_fields is JsonFormatter.add_fields
            and cls.process_log_record is JsonFormatter.process_log_record
        )

    def add_fields(
        self,
        log_data: dict[str, Any],
        record: logging.LogRecord,
        message_dict: dict[str, Any],
    ) -> None:
        log_data.update(schema_fields(record, self.sanitizer))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return log_data

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        return _dumps(log_data).decode("utf-8")

    def format_bytes(self, record: logging.LogRecord) -> bytes:
        """Return the line as UTF-8 bytes, ending in a newline (the handlers' fast path)."""
        try:
            if self._plain:
                fields = schema_fields(record, self.sanitizer)
                try:
                    line = _orjson_dumps(fields, option=_NEWLINE)
                except TypeError:
                    return _dumps(fields, _NEWLINE)
                if 0x7F not in line and (line.isascii() or not (0xC2 in line or 0xE2 in line)):
                    return line  # the usual line: nothing _escape_line_breaks would change
                return _LINE_BREAKING.sub(_escape_match, line)
            log_data: dict[str, Any] = {}
            self.add_fields(log_data, record, {})
            return _dumps(self.process_log_record(log_data), orjson.OPT_APPEND_NEWLINE)
        except Exception as error:
            try:
                return _dumps(_fallback_line(record, error), orjson.OPT_APPEND_NEWLINE)
            except Exception:  # pragma: no cover - the fallback itself failed: a fixed line
                return _LAST_RESORT_LINE

    def line_bytes(
        self,
        created: float,
        level: str,
        name: str,
        msg: str,
        ctx: Mapping[str, Any],
        fields: Mapping[str, Any] | None,
        data: Any,
        event: Any,
    ) -> bytes:
        """The line :meth:`format_bytes` makes of a record with these values and no exception
        or stack, made without the record (the logger's fast path, see
        ``agent_tracing._fastpath``; only for the plain formatter)."""
        try:
            fields = line_fields(
                created, level, name, msg, ctx, fields, data, event,
                self.sanitizer if self.sanitizer is not None else _encoding._active,
            )  # fmt: skip
            try:
                line = _orjson_dumps(fields, option=_NEWLINE)
            except TypeError:
                return _dumps(fields, _NEWLINE)
            if 0x7F not in line and (line.isascii() or not (0xC2 in line or 0xE2 in line)):
                return line
            return _LINE_BREAKING.sub(_escape_match, line)
        except Exception as error:
            record = logging.LogRecord(name, logging.getLevelName(level), "", 0, msg, None, None)
            record.created = created
            try:
                return _dumps(_fallback_line(record, error), orjson.OPT_APPEND_NEWLINE)
            except Exception:  # pragma: no cover - the fallback itself failed: a fixed line
                return _LAST_RESORT_LINE

    def format(self, record: logging.LogRecord) -> str:
        return self.format_bytes(record)[:-1].decode("utf-8")


# C0 controls (but tab), DEL, C1 controls and the Unicode line separators: none may reach a
# terminal raw, or a message could forge a line or recolour the console. The bidirectional
# embeddings, overrides and isolates reorder what a terminal shows (text that reads other than
# it is), and a lone surrogate (a JSON "\ud800") cannot be encoded to UTF-8 at all: both are
# shown as escapes too. Tab stays: it cannot forge a line, erase or recolour anything.
_CONTROL_MAP = {
    code: f"\\x{code:02x}" for code in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if code != 0x09
}
_CONTROL_MAP.update({0x0A: "\\n", 0x0D: "\\r"})
_CONTROL_MAP.update(
    {
        code: f"\\u{code:04x}"
        for code in (*range(0x2028, 0x202F), *range(0x2066, 0x206A), *range(0xD800, 0xE000))
    }
)
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def escape_controls(text: str) -> str:
    """Return ``text`` with control characters, line and paragraph separators, bidirectional
    controls and lone surrogates shown as escapes (``\\n``, ``\\x1b``, ``\\u202e``)."""
    if _UNSAFE.search(text) is None:
        return text
    return text.translate(_CONTROL_MAP)


# A UUID, with or without its dashes, in either case.
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")
#: Characters of a non-UUID correlation id shown on the console before it is cut.
SHORT_ID_CHARS = 32


def short_correlation_id(correlation_id: Any) -> str:
    """Return the correlation id as the console shows it: short, yet telling ids apart.

    A UUID (``uuid4()`` or its ``.hex``) shows its first 8 hex digits, which are random; any other
    id (``req-chat-42``) is shown whole up to 32 characters, then cut with an ellipsis. Control
    characters are escaped. No id is ``-``.
    """
    if correlation_id is None or correlation_id == "":
        return "-"
    text = correlation_id if correlation_id.__class__ is str else str(correlation_id)
    if len(text) in (32, 36) and _UUID.fullmatch(text):
        return text[:8]
    if len(text) > SHORT_ID_CHARS:
        text = f"{text[: SHORT_ID_CHARS - 1]}…"  # cut before escaping: no half escape shown
    return escape_controls(text)


def _escaped(value: Any) -> Any:
    return escape_controls(value) if isinstance(value, str) else value


DEFAULT_CONSOLE_FORMAT = (
    "%(log_color)s%(levelname)-8s%(reset)s %(blue)s%(name)s%(reset)s "
    "%(light_black)s[%(short_correlation_id)s]%(reset)s - %(message)s%(data_text)s"
)
DEFAULT_LOG_COLORS = {
    "DEBUG": "cyan",
    "INFO": "green",
    "WARNING": "yellow",
    "ERROR": "red",
    "CRITICAL": "red,bg_white",
}


class _Values:
    """The mapping a ``%`` format reads (colorlog's ``ColoredRecord``, plus our fields)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values


class ConsoleFormatter(colorlog.ColoredFormatter):
    """The seed's coloured line plus a short correlation id and the line's ``data``.

    Colours are off when the stream is not a terminal or ``NO_COLOR`` is set (colorlog's rules).
    The message, ``data`` and traceback are redacted like the JSON view, and control characters are
    escaped so that no message can forge a second line or recolour the terminal.

    Extra format fields: ``short_correlation_id``, ``correlation_id``, ``component``, ``event``,
    each declared context field by its name (``user_id``, ``strategy_id``, ``backtest_id`` by
    default), ``data_text``, ``timestamp`` (ISO UTC).

    Args:
        fmt: A ``%``-style format (default :data:`DEFAULT_CONSOLE_FORMAT`).
        sanitizer: Redaction and size limits (default: the configured one).
        max_data_chars: Characters of ``data`` shown per line.
    """

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: Any = "%",
        log_colors: Mapping[str, str] | None = None,
        *,
        stream: TextIO | None = None,
        no_color: bool = False,
        force_color: bool = False,
        sanitizer: Sanitizer | None = None,
        max_data_chars: int = 400,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            fmt or DEFAULT_CONSOLE_FORMAT,
            datefmt,
            style,
            log_colors=log_colors or DEFAULT_LOG_COLORS,
            stream=stream if stream is not None else sys.stderr,
            no_color=no_color,
            force_color=force_color,
            **kwargs,
        )
        self.sanitizer = sanitizer
        self.max_data_chars = max_data_chars
        self._escapes: dict[str, dict[str, str]] = {}

    def _escape_code_map(self, item: str) -> dict[str, str]:
        # colorlog rebuilds this map for every record; it only depends on the level.
        cached = self._escapes.get(item)
        if cached is None:
            cached = dict(super()._escape_code_map(item))
            self._escapes[item] = cached
        return cached

    def format(self, record: logging.LogRecord) -> str:
        try:
            return self._format(record)
        except Exception as error:
            try:
                san = self.sanitizer or get_sanitizer()
                name = _name_text(record.name, san)
                text = f"{record.levelname} {name} - <log error: {san.text(safe_repr(error, 500))}>"
                return escape_controls(text)
            except Exception:  # pragma: no cover - the record itself is unreadable
                return "ERROR - <log error>"

    def _format(self, record: logging.LogRecord) -> str:
        fields = schema_fields(record, self.sanitizer)
        cid = fields["correlation_id"]
        data = fields["data"]
        data_text = ""
        if data:
            text = _dumps(data).decode("utf-8")  # its fallback takes lone surrogates
            if len(text) > self.max_data_chars:
                text = f"{text[: self.max_data_chars]}…"
            data_text = f" {escape_controls(text)}"
        values = dict(record.__dict__)
        values.update(self._escape_code_map(record.levelname))
        for key in _schema.declared_fields():  # each declared context field, by its name
            values[key] = _escaped(fields[key])
        # Context values come from clients too (a correlation id header, a bound user id): they
        # are escaped like the message, or one could forge a line or recolour the terminal.
        values.update(
            name=_escaped(fields["logger"]),
            message=escape_controls(fields["message"]),
            levelname=fields["level"],
            short_correlation_id=short_correlation_id(cid),
            correlation_id=_escaped(cid),
            component=_escaped(fields["component"]),
            event=_escaped(fields["event"]),
            data_text=data_text,
            timestamp=fields["timestamp"],
        )
        if self.usesTime():
            values["asctime"] = self.formatTime(record, self.datefmt)
        line = self._append_reset(self._style._format(_Values(values)), values)  # type: ignore[attr-defined]
        exc = fields.get("exception")
        if exc:
            lines = exc["traceback"].splitlines() or [f"{exc['type']}: {exc['message']}"]
            line += "".join(f"\n    {escape_controls(part)}" for part in lines)
        return line
