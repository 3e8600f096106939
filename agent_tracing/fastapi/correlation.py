"""Correlation ids from clients: which values are trusted as-is, and how a rejected one is shown."""

from __future__ import annotations

import re

from agent_tracing.encoding import get_sanitizer

__all__ = [
    "DEFAULT_CORRELATION_HEADERS",
    "MAX_CORRELATION_ID_LENGTH",
    "escape_rejected",
    "is_header_safe",
    "is_valid_correlation_id",
    "survives_redaction",
]

#: Request headers read for the correlation id, in order. The id is answered under the header it
#: was read from (or rejected from); a generated id under the first.
DEFAULT_CORRELATION_HEADERS: tuple[str, ...] = ("X-Correlation-ID", "X-Request-ID")
#: Longest correlation id accepted from a client (a UUID is 36 characters).
MAX_CORRELATION_ID_LENGTH = 64

_TOKEN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_CORRELATION_ID_LENGTH - 1}}}")
_REJECTED_CHARS = 64  # characters of a rejected id shown in the warning
# Visible ASCII only: Latin-1 is legal in a header but clients decode it as they please (UTF-8,
# ASCII), so the id they read would differ from the one logged. The bound keeps a runaway
# generator's output out of every line and header.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]{1,256}")


def is_valid_correlation_id(value: str) -> bool:
    """Return whether a client's correlation id can be trusted as-is.

    Accepted: a token of 1 to 64 ASCII letters, digits, ``.``, ``_``, ``:`` and ``-`` that starts
    with a letter or digit (every UUID form, W3C trace ids, nginx ``$request_id``). Rejected:
    anything longer, empty, with spaces, control characters (CR/LF) or non-ASCII characters.
    """
    return _TOKEN.fullmatch(value) is not None


def is_header_safe(value: object) -> bool:
    """Return whether ``value`` can be sent in a response header exactly as it is logged: a string
    of 1 to 256 visible ASCII characters (no spaces, control or non-ASCII characters)."""
    return isinstance(value, str) and _HEADER_SAFE.fullmatch(value) is not None


def survives_redaction(value: str) -> bool:
    """Return whether ``value`` is logged as it is: ``False`` for a secret-shaped id (an API key,
    an AWS key id, a JWT) that the configured redaction would replace.

    Such an id is rejected whatever the validator says: kept, it would be ``[REDACTED]`` in every
    line while the response header echoed the secret back, and no line could be found by it.
    """
    return get_sanitizer().text(value) == value


def escape_rejected(value: str) -> str:
    """Return a rejected client value as it may be logged: cut to 64 characters, with control and
    non-ASCII characters escaped (``\\r``, ``\\x1b``, ``\\xc3``), so it shows what was sent."""
    return ascii(value[:_REJECTED_CHARS])[1:-1]
