"""Turn any value into JSON-safe data, redacted and bounded, without ever raising.

:class:`Sanitizer` walks a value once: secret keys are masked, every string is scanned for
secret-looking values, oversized strings and containers are cut with a marker, cycles and very deep
nesting are stopped, and values JSON cannot hold (datetimes, decimals, UUIDs, bytes, sets, enums,
pydantic models, dataclasses, exceptions, arbitrary objects) get a safe encoding. A value whose
``__repr__`` raises becomes a marker naming its type.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from agent_tracing.redaction import _MIN_TOKEN_TEXT, Redactor

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Sanitizer",
    "bounded_int",
    "get_sanitizer",
    "safe_repr",
    "set_sanitizer",
]

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_SCALARS = (bool, float, type(None))
_CACHED_TEXT = 256
_CACHE_SIZE = 8192
_MISSING: Any = object()
# Python refuses ``str()`` of an int past 4,300 digits (``sys.set_int_max_str_digits``); below
# 14,000 bits (4,215 digits) it is always allowed, past 2,000,000 bits even counting the digits
# exactly costs too much for a log line.
_INT_SAFE_BITS = 14_000
_INT_COUNT_BITS = 2_000_000
_INT_EDGE = 20  # digits kept at each end of a bounded int
_INT_SHOWN = 64  # an int of at most this many digits is written whole
_LOG10_2 = 0.30102999566398120
_ITEM_COST = 4  # characters charged to the line budget per item (separators, quotes, a number)
# What the flat fast path may leave uncounted per item: a key and a string value from the caches.
_FAST_ITEM = 2 * _CACHED_TEXT


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep one log line small, whatever was passed to it.

    Attributes:
        max_string: Characters kept of any one string (prompts, outputs, messages).
        max_items: Items kept of any one list or mapping.
        max_depth: Nesting levels kept; deeper values become a marker.
        max_line: The budget of one line's ``data``, in characters of text (each string's
            length, each key's length and a few characters per item), spent while it is walked:
            past it strings are cut and items left out with a ``[line budget: ...]`` marker, so
            the cost and size of one line stay bounded whatever the nesting. 65536 (64 KiB) holds
            eight strings of the full ``max_string`` whole and stays well under the per-event
            limits of common log collectors (256 KB).
    """

    max_string: int = 8192
    max_items: int = 100
    max_depth: int = 8
    max_line: int = 65536


DEFAULT_LIMITS = Limits()


def _type_name(value: object) -> str:
    try:
        return type(value).__qualname__
    except Exception:  # pragma: no cover - a type whose name raises
        return "object"


def safe_repr(value: object, limit: int = 8192) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters, or a marker when ``repr`` raises."""
    try:
        text = repr(value)
    except Exception:
        return f"<unrepresentable {_type_name(value)}>"
    if not isinstance(text, str):  # pragma: no cover - a broken __repr__ returning non-str
        return f"<unrepresentable {_type_name(value)}>"
    if len(text) > limit:
        return f"{text[:limit]}…[truncated {len(text) - limit} chars]"
    return text


def bounded_int(value: int) -> str:
    """Return the decimal text of ``value``, or for an int too long to print its first and last
    digits and its length (``"12…89[5000 digits]"``); never raises.

    ``str()`` of an int past 4,300 digits raises ``ValueError``; this keeps such a value (and the
    rest of the line) loggable.
    """
    try:
        if value.bit_length() <= _INT_SAFE_BITS:
            text = int.__repr__(value)
            sign = "-" if text[0] == "-" else ""
            digits = len(text) - len(sign)
            if digits <= _INT_SHOWN:
                return text
            head = text[len(sign) : len(sign) + _INT_EDGE]
            return f"{sign}{head}…{text[-_INT_EDGE:]}[{digits} digits]"
    except ValueError:  # pragma: no cover - the application lowered the digit limit
        pass
    try:
        sign = "-" if value < 0 else ""
        magnitude = -value if value < 0 else value
        bits = magnitude.bit_length()
        tail = f"{magnitude % 10**_INT_EDGE:0{_INT_EDGE}d}"
        digits = int(bits * _LOG10_2) + 1  # exact or one too many
        if bits > _INT_COUNT_BITS:
            return f"{sign}…{tail}[~{digits} digits]"
        if magnitude < 10 ** (digits - 1):
            digits -= 1
        head = magnitude // 10 ** (digits - _INT_EDGE)
        return f"{sign}{head}…{tail}[{digits} digits]"
    except Exception:  # pragma: no cover - an int cannot fail here; logging never raises
        return "<int>"


def _safe_str(value: object) -> str:
    try:
        text = str(value)
    except Exception:
        return safe_repr(value)
    return text if isinstance(text, str) else safe_repr(value)


class Sanitizer:
    """Make values JSON-safe, redacted and bounded (see the module docstring).

    Args:
        redactor: Decides secret keys and scrubs text.
        limits: Size bounds.
    """

    def __init__(self, redactor: Redactor | None = None, limits: Limits = DEFAULT_LIMITS) -> None:
        self.redactor = redactor if redactor is not None else Redactor()
        self.limits = limits
        self._marker = self.redactor.marker
        # Short strings repeat (messages, ids, keys, enum-like values): remember their clean form.
        self._texts: dict[str, str] = {}
        self._keys: dict[str, str | None] = {}
        self._cache_limit = min(_CACHED_TEXT, limits.max_string)
        # The fast path asks the redactor (``Redactor.skips_scan``, the one decision, so the fast
        # and full paths always agree) about strings shorter than this, which need no cut; it
        # leaves them out of the cache (short ids would crowd it). Longer strings go through
        # ``text`` and its cache.
        self._short_text = min(_MIN_TOKEN_TEXT, self._cache_limit + 1)

    def text(self, value: str) -> str:
        """Return a string cut to the limit and scrubbed of secrets."""
        if len(value) <= self._cache_limit:
            cache = self._texts
            out = cache.get(value)
            if out is None:
                out = self.redactor.redact_text(value)
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[value] = out
            return out
        limit = self.limits.max_string
        if len(value) > limit:
            # Scrub a margin past the cut so a secret that straddles it is caught whole.
            scrubbed = self.redactor.redact_text(value[: limit + 512])
            return f"{scrubbed[:limit]}…[truncated {len(value) - limit} chars]"
        return self.redactor.redact_text(value)

    def clean(self, value: Any) -> Any:
        """Return a JSON-safe, redacted, bounded copy of ``value``."""
        try:
            return self._clean(value, 0, None, [self.limits.max_line])
        except Exception:
            return f"<unserializable {_type_name(value)}>"

    def clean_mapping(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """Return a JSON-safe copy of a mapping (the ``data`` of a line)."""
        if value.__class__ is dict and len(value) <= self.limits.max_items:
            # The common case, a small dict of plain values, without the general walk.
            try:
                out: dict[str, Any] = {}
                keys = self._keys
                texts = self._texts
                short = self._short_text
                skips_scan = self.redactor.skips_scan
                token_chars = self.redactor.token_chars
                # The line budget: only strings scanned here (long or new) are counted as the
                # walk goes; keys and the other strings are short (cached ones are at most
                # ``_CACHED_TEXT``), bounded per item below and counted exactly only when that
                # bound does not already fit.
                spent = 0
                budget = [self.limits.max_line - _ITEM_COST * len(value)]
                for key, item in value.items():  # a concurrent change raises: the general path
                    name = keys.get(key)
                    # Not seen yet, a secret, or not exactly a string (a ``str`` subclass equal
                    # to a cached key still takes the general path, as it would uncached).
                    if name is None or key.__class__ is not str:
                        if key.__class__ is not str:
                            break
                        name = self._key(key)
                        if name is None:
                            out[key] = self._marker
                            continue
                        spent += len(name)
                    cls = item.__class__
                    if cls is str:
                        if len(item) < short and (
                            (item and token_chars.issuperset(item)) or skips_scan(item)
                        ):
                            out[name] = item
                            continue
                        clean = texts.get(item)
                        if clean is None:
                            clean = self.text(item)
                            spent += len(clean)
                            if spent > budget[0]:
                                break  # over the line budget: the general walk cuts it
                        out[name] = clean
                    elif cls is int:
                        out[name] = item if _INT_MIN <= item <= _INT_MAX else bounded_int(item)
                    elif cls in _SCALARS:
                        out[name] = item
                    else:
                        out[name] = self._clean(item, 1, {id(value)}, budget)
                else:
                    left = budget[0]
                    if spent + len(out) * _FAST_ITEM <= left or self._fits(out, left):
                        return out
                    # Over the line budget: the general walk cuts it where it runs out.
            except Exception:
                pass
        try:
            cleaned = self._clean(value, 0, None, [self.limits.max_line])
        except Exception:
            return {"_unserializable": _type_name(value)}
        return cleaned if isinstance(cleaned, dict) else {"value": cleaned}

    @staticmethod
    def _fits(out: dict[str, Any], left: int) -> bool:
        # Whether the keys and strings of a flat result fit in what is left of the line budget.
        size = 0
        for key, item in out.items():
            size += len(key) + (len(item) if item.__class__ is str else 0)
        return 0 < size <= left

    def _spend(self, text: str, budget: list[int]) -> str:
        # Charge a clean string to the line budget; past it, keep what is left of the budget.
        budget[0] -= len(text)
        if budget[0] >= 0:
            return text
        keep = max(0, len(text) + budget[0])
        budget[0] = 0
        return f"{text[:keep]}…[line budget: {len(text) - keep} more chars]"

    def _clean(self, value: Any, depth: int, seen: set[int] | None, budget: list[int]) -> Any:
        cls = type(value)
        if cls is str:
            return self._spend(self.text(value), budget)
        if cls is int:
            return value if _INT_MIN <= value <= _INT_MAX else bounded_int(value)
        if cls in _SCALARS:
            return value
        if depth >= self.limits.max_depth:
            return f"<max depth: {_type_name(value)}>"
        if isinstance(value, Mapping):
            return self._mapping(value, depth, seen, budget)
        if isinstance(value, list | tuple | set | frozenset):
            return self._sequence(value, depth, seen, budget)
        return self._other(value, depth, seen, budget)

    def _enter(self, value: object, seen: set[int] | None) -> set[int] | None:
        ident = id(value)
        if seen is None:
            return {ident}
        if ident in seen:
            return None
        seen.add(ident)
        return seen

    def _mapping(
        self, value: Mapping[Any, Any], depth: int, seen: set[int] | None, budget: list[int]
    ) -> Any:
        path = self._enter(value, seen)
        if path is None:
            return "<cycle>"
        try:
            out: dict[str, Any] = {}
            keys = self._keys
            texts = self._texts
            limit = self.limits.max_items
            count = 0
            try:
                items = list(value.items())
            except Exception:
                return f"<unreadable {_type_name(value)}>"
            try:  # items() that are not pairs cost this mapping only, not the line
                for key, item in items:
                    if count >= limit:
                        out["_truncated_keys"] = len(items) - limit
                        break
                    if budget[0] <= 0:
                        out["_line_budget"] = f"[line budget: {len(items) - count} more keys]"
                        break
                    count += 1
                    name = key if type(key) is str else _safe_str(key)
                    clean_name = keys.get(name, _MISSING)
                    if clean_name is _MISSING:
                        clean_name = self._key(name)
                    budget[0] -= _ITEM_COST + len(name)
                    if clean_name is None:  # a secret key: the key stays, the value goes
                        out[name if len(name) <= 200 else self.text(name)] = self._marker
                        continue
                    # The leaves of ``_clean``, inline: most values of nested data are leaves.
                    cls = type(item)
                    if cls is str:
                        out[clean_name] = self._spend(texts.get(item) or self.text(item), budget)
                    elif cls is int:
                        out[clean_name] = (
                            item if _INT_MIN <= item <= _INT_MAX else bounded_int(item)
                        )
                    elif cls in _SCALARS:
                        out[clean_name] = item
                    else:
                        out[clean_name] = self._clean(item, depth + 1, path, budget)
            except Exception:
                return f"<unreadable {_type_name(value)}>"
            return out
        finally:
            path.discard(id(value))

    def _key(self, name: str) -> str | None:
        clean = None if self.redactor.is_secret_key(name) else self.text(name)
        if len(name) <= _CACHED_TEXT:
            if len(self._keys) >= _CACHE_SIZE:
                self._keys.clear()
            self._keys[name] = clean
        return clean

    def _sequence(self, value: Any, depth: int, seen: set[int] | None, budget: list[int]) -> Any:
        path = self._enter(value, seen)
        if path is None:
            return "<cycle>"
        try:
            try:
                items = list(value)
            except Exception:  # a container subclass whose iteration raises
                return f"<unreadable {_type_name(value)}>"
            if isinstance(value, set | frozenset):
                try:
                    items.sort()
                except TypeError:
                    items.sort(key=safe_repr)
            limit = self.limits.max_items
            out: list[Any] = []
            append = out.append
            texts = self._texts
            spend = self._spend
            kept = items[:limit] if len(items) > limit else items
            for index, item in enumerate(kept):
                if budget[0] <= 0:
                    append(f"…[line budget: {len(kept) - index} more items]")
                    break
                budget[0] -= _ITEM_COST
                cls = type(item)  # the leaves of ``_clean``, inline
                if cls is str:
                    append(spend(texts.get(item) or self.text(item), budget))
                elif cls is int:
                    append(item if _INT_MIN <= item <= _INT_MAX else bounded_int(item))
                elif cls in _SCALARS:
                    append(item)
                else:
                    append(self._clean(item, depth + 1, path, budget))
            if len(items) > limit:
                out.append(f"…[{len(items) - limit} more items]")
            return out
        finally:
            path.discard(id(value))

    def _other(self, value: Any, depth: int, seen: set[int] | None, budget: list[int]) -> Any:
        if isinstance(value, str):  # str subclasses
            return self._spend(self.text(str.__str__(value)), budget)
        if isinstance(value, int):  # int subclasses other than bool and enums handled below
            if isinstance(value, enum.Enum):
                return self._clean(value.value, depth + 1, seen, budget)
            return self._clean(int(value), depth, seen, budget)
        if isinstance(value, enum.Enum):
            return self._clean(value.value, depth + 1, seen, budget)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, _dt.datetime | _dt.date | _dt.time):
            return value.isoformat()
        if isinstance(value, _dt.timedelta):
            return value.total_seconds()
        if isinstance(value, Decimal | uuid.UUID | PurePath):
            return self._spend(self.text(str(value)), budget)
        if isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value[: self.limits.max_string])
            text = raw.decode("utf-8", "backslashreplace")
            if len(value) > self.limits.max_string:
                text += f"…[truncated {len(value) - self.limits.max_string} bytes]"
            return self._spend(self.redactor.redact_text(text), budget)
        if isinstance(value, BaseException):
            message = self._spend(self.text(_safe_str(value)), budget)
            return {"type": _type_name(value), "message": message}
        dump = getattr(value, "model_dump", None)  # pydantic v2 models, LangChain messages
        if callable(dump) and not isinstance(value, type):
            try:
                dumped = dump(mode="json")
            except Exception:
                dumped = None
            if dumped is not None:
                return self._clean(dumped, depth, seen, budget)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            # A field declared ``repr=False`` is one its author chose not to show: redact it.
            fields = {
                f.name: getattr(value, f.name, None) if f.repr else self._marker
                for f in dataclasses.fields(value)
            }
            return self._clean(fields, depth, seen, budget)
        return self._spend(self.text(safe_repr(value, self.limits.max_string)), budget)


_active = Sanitizer()


def get_sanitizer() -> Sanitizer:
    """Return the sanitizer formatters use when they were given none (set by configuration)."""
    return _active


def set_sanitizer(sanitizer: Sanitizer) -> None:
    """Make ``sanitizer`` the one formatters use when they were given none."""
    global _active
    _active = sanitizer
