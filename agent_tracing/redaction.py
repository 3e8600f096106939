"""Secret redaction: by key anywhere in structured data, and by value pattern in every string.

Keys are compared case-insensitively after normalisation (``X-API-Key``, ``api_key`` and ``apiKey``
are the same key). Values are scanned for bearer tokens, JWTs, provider API keys, credentials in
URLs, secret query parameters and ``key=value`` / ``'key': 'value'`` forms. A matched value is
replaced by a fixed marker; the key or the prefix stays, so a reader still sees what was there.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

__all__ = [
    "DEFAULT_SECRET_KEYS",
    "REDACTED",
    "Redactor",
    "normalize_key",
]

REDACTED = "[REDACTED]"

#: Keys whose values never reach a log line. Extend through :class:`Redactor` or
#: ``configure_logging(redact_keys=...)``. ``pwd`` is not one: as a key it is mostly the working
#: directory (the ``PWD`` environment variable); ``PWD=...`` in text (ODBC strings) still is.
DEFAULT_SECRET_KEYS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "x_api_key",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "private_key",
        "jwt",
        "session",
        "secret_key",
        "jwt_secret_key",
        "ws_token",
        "credentials",
        "dsn",
    }
)

#: A key ending in one of these (after normalisation, underscores removed) is secret too:
#: ``db_password``, ``stripeApiKey``, ``csrf_token``. ``total_tokens`` is not (it ends in "tokens").
DEFAULT_SECRET_SUFFIXES: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "secretkey",
)

# Keys looked for in free text (``password=...``, ``'token': '...'``, ``?api_key=...``). Narrower
# than the key set: words like "session" or "dsn" are too common in prose to treat as a key there.
_TEXT_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "x_api_key",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "private_key",
    "secret_key",
    "jwt",
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
    "sig",
    "signature",
)

# Lower-case substrings at least one of which is in any text the pattern can match: most log text
# has none, and a few ``in`` tests cost far less than running the full pattern.
_TRIGGERS: tuple[str, ...] = (
    "://",
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "jwt",
    "auth",
    "cookie",
    "sig",
    "bearer",
    "basic",
    "code",
    "eyj",
    "sk-",
    "sk_",
    "pk-",
    "pk_",
    "rk-",
    "rk_",
    "gh",
    "xox",
    "akia",
)
_MIN_SECRET_TEXT = 5  # "pwd=x" is the shortest text a pattern matches
# Without a separator (":", "=", "@", "?", space), only the JWT and provider-key patterns can
# match, and their shortest forms are 13 characters ("eyJ" + 4 + "." + 4 + ".") and 15 ("xoxb-"
# and 10 more): shorter plain tokens (ids, enum-like values) need no scan.
_MIN_TOKEN_TEXT = 13
_PLAIN_TOKEN = re.compile(r"[\w.\-/+,#]*")
# Its ASCII characters as a set: ``_TOKEN_ASCII.issuperset(text)`` is the cheaper first test.
_TOKEN_ASCII = frozenset(string.ascii_letters + string.digits + "_.-/+,#")
# Hex digits and hyphens (UUIDs, span ids, hashes) can start no pattern: every form needs a
# separator, whitespace, or a letter past "f" ("eyJ", "sk-", "gh", "xox", "AKIA", "bearer").
_HEXISH = "0123456789abcdefABCDEF-"

_KEY_SPLIT = re.compile(r"[-\s.]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalize_key(key: str) -> str:
    """Return the comparison form of a key, snake and lower case (``X-API-Key``: ``x_api_key``)."""
    return _KEY_SPLIT.sub("_", _CAMEL.sub("_", key.strip())).lower()


def _text_key_regex(keys: Iterable[str]) -> str:
    # ``api_key`` matches api_key, api-key, apiKey and API_KEY.
    parts = sorted({re.escape(k).replace("_", "[-_]?") for k in keys}, key=len, reverse=True)
    return "|".join(parts)


def _build_text_pattern(text_keys: Iterable[str]) -> re.Pattern[str]:
    keys = _text_key_regex(text_keys)
    value = r"""(?:(?i:bearer|basic)\s+)?(?:"[^"]*"|'[^']*'|[^\s,;&{}\[\]()"']+)"""
    return re.compile(
        # 1. credentials in a URL: scheme://user:PASSWORD@host
        r"(?P<url_p>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:)(?P<url>[^\s@]+?)(?=@)"
        # 2. secret query parameters: ?token=...&api_key=...
        rf"|(?P<q_p>[?&;](?i:(?:[a-z0-9]+[-_])*(?:{keys}|key|auth|code))=)(?P<q>[^&#\s\"']+)"
        # 3. key=value, key: value, 'key': 'value', "key": "value" forms (reprs, messages, env)
        rf"|(?P<kv_p>(?<![A-Za-z0-9])[\"']?(?i:(?:[a-z0-9]+[-_])*(?:{keys}))[\"']?\s*[:=]\s*)"
        rf"(?P<kv>{value})"
        # 4. Authorization schemes
        r"|(?P<auth_p>\b(?i:bearer|basic|token)\s+)(?P<auth>[A-Za-z0-9\-._~+/]{8,}=*)"
        # 5. JWTs (header.payload.signature, base64url, header starts with {" )
        r"|(?P<jwt>\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"
        # 6. provider API keys: sk-..., sk_live_..., GitHub, Slack, AWS access key ids
        r"|(?P<apikey>\b(?:(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"
        r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}"
        r"|AKIA[0-9A-Z]{16})\b)"
    )


class Redactor:
    """Decide which keys are secret and scrub secret values out of text.

    Args:
        keys: The secret keys (default :data:`DEFAULT_SECRET_KEYS`); compared after
            :func:`normalize_key`.
        extra_keys: Keys added to ``keys`` (the usual way to extend the defaults).
        patterns: Extra regular expressions; every match in any string is replaced by the marker.
        marker: The replacement text.
    """

    def __init__(
        self,
        keys: Iterable[str] | None = None,
        *,
        extra_keys: Iterable[str] = (),
        patterns: Iterable[str | re.Pattern[str]] = (),
        marker: str = REDACTED,
    ) -> None:
        base = DEFAULT_SECRET_KEYS if keys is None else frozenset(keys)
        self.keys: frozenset[str] = frozenset(normalize_key(k) for k in (*base, *extra_keys))
        self._compact = frozenset(k.replace("_", "") for k in self.keys)
        self.marker = marker
        self._pattern = _build_text_pattern((*_TEXT_KEYS, *(normalize_key(k) for k in extra_keys)))
        self._extra = tuple(re.compile(p) if isinstance(p, str) else p for p in patterns)
        self._key_cache: dict[str, bool] = {}
        extra_triggers = {normalize_key(k) for k in extra_keys}
        self._triggers = (
            _TRIGGERS
            + tuple(t for t in extra_triggers if t)
            + tuple(t.replace("_", "-") for t in extra_triggers if "_" in t)
        )

    def is_secret_key(self, key: str) -> bool:
        """Return whether values under ``key`` must be redacted."""
        cached = self._key_cache.get(key)
        if cached is not None:
            return cached
        compact = normalize_key(key).replace("_", "")
        secret = compact in self._compact or compact.endswith(DEFAULT_SECRET_SUFFIXES)
        if len(self._key_cache) < 4096:
            self._key_cache[key] = secret
        return secret

    def _replace(self, match: re.Match[str]) -> str:
        group = match.lastgroup
        marker = self.marker
        if group in ("jwt", "apikey"):
            return marker
        prefix = match.group(f"{group}_p") if group is not None else ""
        if group == "kv":
            value = match.group("kv")
            if value[:1] in "\"'":
                return f"{prefix}{value[0]}{marker}{value[0]}"
        return f"{prefix}{marker}"

    def redact_text(self, text: str) -> str:
        """Return ``text`` with every secret-looking value replaced by the marker."""
        if not self._extra and (
            len(text) < _MIN_SECRET_TEXT
            or (
                len(text) < _MIN_TOKEN_TEXT
                and (_TOKEN_ASCII.issuperset(text) or _PLAIN_TOKEN.fullmatch(text) is not None)
            )
            or not text.strip(_HEXISH)
        ):
            return text
        out = text
        low = text.lower()
        for trigger in self._triggers:
            if trigger in low:
                out = self._pattern.sub(self._replace, text)
                break
        for pattern in self._extra:
            out = pattern.sub(self.marker, out)
        return out
