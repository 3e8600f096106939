"""What of a log line may be shown: secrets redacted, controls escaped, lone surrogates escaped.

A log file may be written by anything (another logger, a hand-made file, an attacker who controls
a message), so the viewer trusts none of its text. Every log value a view shows passes through
:func:`display_text`: first the core's redaction (the active sanitizer's
:class:`~agent_tracing.redaction.Redactor`, so a custom pattern set by ``configure_logging``
applies here too), then every character a terminal would act on (C0 and C1 controls, DEL, the
Unicode line separators, bidirectional overrides) and every lone surrogate (which no UTF-8 stream
can encode) is replaced by a visible escape such as ``\\x1b`` or ``\\ud800``.

Only what is shown is cleaned (the chosen operation's lines, ``list``'s summary cells), never every
line read, so big files cost no more to scan.
"""

from __future__ import annotations

from typing import Any

from agent_tracing.encoding import _INT_MAX, _INT_MIN, get_sanitizer
from agent_tracing.formatters import escape_controls
from agent_tracing.redaction import Redactor

__all__ = ["display_line", "display_text", "display_value"]

_MAX_DEPTH = 32
_TOO_DEEP = "…[nested too deep]"
# Keys, levels, event names and ids repeat from line to line: their clean forms are remembered.
_CACHED_TEXT = 256
_CACHE_SIZE = 4096


class _Cleaner:
    """The redactor in use and the clean forms of short texts it gave."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.texts: dict[str, str] = {}

    def text(self, text: str) -> str:
        if len(text) > _CACHED_TEXT:
            return self._clean(text)
        out = self.texts.get(text)
        if out is None:
            out = self._clean(text)
            if len(self.texts) >= _CACHE_SIZE:
                self.texts.clear()
            self.texts[text] = out
        return out

    def _clean(self, text: str) -> str:
        return escape_controls(self.redactor.redact_text(text))

    def value(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            if depth >= _MAX_DEPTH:
                return _TOO_DEEP
            is_secret = self.redactor.is_secret_key
            marker = self.redactor.marker
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = key if isinstance(key, str) else str(key)
                out[self.text(name)] = marker if is_secret(name) else self.value(item, depth + 1)
            return out
        if isinstance(value, list):
            if depth >= _MAX_DEPTH:
                return _TOO_DEEP
            return [self.value(item, depth + 1) for item in value]
        if isinstance(value, int) and not _INT_MIN <= value <= _INT_MAX:
            return str(value)
        return value


_cleaner: _Cleaner | None = None


def _current() -> _Cleaner:
    """The cleaner for the active sanitizer's redactor (a new one when configuration changed it)."""
    global _cleaner
    redactor = get_sanitizer().redactor
    if _cleaner is None or _cleaner.redactor is not redactor:
        _cleaner = _Cleaner(redactor)
    return _cleaner


def display_text(text: str) -> str:
    """Return ``text`` redacted, with controls, separators and lone surrogates escaped."""
    return _current().text(text)


def display_value(value: Any) -> Any:
    """Return a parsed JSON value made safe to show.

    Strings and keys go through :func:`display_text`; the value of a secret key (``password``,
    ``api_key``...) becomes the redaction marker; nesting deeper than 32 levels becomes a marker;
    an int beyond 64 bits becomes its digits as text.
    """
    return _current().value(value, 0)


def display_line(line: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of one parsed line that is safe to show (see :func:`display_value`)."""
    out: dict[str, Any] = _current().value(line, 0)
    return out
