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

import re
from typing import Any

from agent_tracing.encoding import get_sanitizer

__all__ = ["display_line", "display_text", "display_value"]

# Tab stays: it moves the cursor but cannot forge a line, erase or recolour anything.
_ESCAPES: dict[int, str] = {
    code: f"\\x{code:02x}" for code in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if code != 0x09
}
_ESCAPES.update({0x0A: "\\n", 0x0D: "\\r"})
# Line and paragraph separators split lines in many readers; the bidirectional embeddings,
# overrides and isolates reorder what a terminal shows (text that reads other than it is).
_ESCAPES.update(
    {code: f"\\u{code:04x}" for code in (*range(0x2028, 0x202F), *range(0x2066, 0x206A))}
)
# A lone surrogate (a JSON ``"\ud800"``) cannot be encoded to UTF-8: printing it would raise.
_ESCAPES.update({code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)})
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_MAX_DEPTH = 32
_TOO_DEEP = "…[nested too deep]"


def display_text(text: str) -> str:
    """Return ``text`` redacted, with controls, separators and lone surrogates escaped."""
    text = get_sanitizer().redactor.redact_text(text)
    if _UNSAFE.search(text) is None:
        return text
    return text.translate(_ESCAPES)


def display_value(value: Any, depth: int = 0) -> Any:
    """Return a parsed JSON value made safe to show: strings and keys through
    :func:`display_text`, the value of a secret key (``password``, ``api_key``...) replaced by the
    redaction marker, nesting deeper than 32 levels replaced by a marker."""
    if isinstance(value, str):
        return display_text(value)
    if isinstance(value, dict):
        if depth >= _MAX_DEPTH:
            return _TOO_DEEP
        redactor = get_sanitizer().redactor
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else str(key)
            out[display_text(name)] = (
                redactor.marker if redactor.is_secret_key(name) else display_value(item, depth + 1)
            )
        return out
    if isinstance(value, list):
        if depth >= _MAX_DEPTH:
            return _TOO_DEEP
        return [display_value(item, depth + 1) for item in value]
    return value


def display_line(line: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of one parsed line that is safe to show (see :func:`display_value`)."""
    out: dict[str, Any] = display_value(line)
    return out
