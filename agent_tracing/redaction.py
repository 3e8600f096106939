"""Secret redaction: by key anywhere in structured data, and by value pattern in every string.

Keys are compared case-insensitively after normalisation (``X-API-Key``, ``api_key`` and ``apiKey``
are the same key). Values are scanned for bearer tokens, JWTs, PEM private keys, provider tokens
(shapes from gitleaks' rules), credentials in URLs, secret query parameters (decoded names too),
Cookie headers and ``key=value`` / ``'key': 'value'`` forms. A matched value is replaced by a fixed
marker; the key or the prefix stays, so a reader still sees what was there.
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
        "passphrase",
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
        "session_id",
        "sessionid",
        "jsessionid",
        "phpsessid",
        "secret_key",
        "jwt_secret_key",
        "aws_secret_access_key",
        "secret_access_key",
        "encryption_key",
        "signing_key",
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
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "secretkey",
    "secretaccesskey",
    "encryptionkey",
    "signingkey",
)

# Keys looked for in free text (``password=...``, ``'token': '...'``, ``?api_key=...``). Narrower
# than the key set: words like "session" or "dsn" are too common in prose to treat as a key there.
_TEXT_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
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
    "secret_access_key",
    "encryption_key",
    "signing_key",
    "session_id",
    "sessionid",
    "jwt",
    "authorization",
    "proxy_authorization",
    "sig",
    "signature",
)

# Provider token shapes: (rule, triggers, regex). The shapes follow the rules of gitleaks'
# ``config/gitleaks.toml`` (github.com/gitleaks/gitleaks; rule ids as names), a little looser on
# length so that a cut or a newer, longer token is still caught. ``whsec_`` has no gitleaks rule:
# its shape is Stripe's documented webhook-secret prefix. Each trigger is a literal that every
# match contains (lower case, looked for in the lower-cased text, except the upper-case "A..."
# prefixes the rules match case-sensitively): the cheap pre-check looks for them, so a token is
# never skipped.
_TOKEN_RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("openai-style-key", ("sk-", "pk-", "rk-"), r"(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"),
    (
        "stripe-access-token",
        ("sk_", "pk_", "rk_"),
        r"(?:sk|pk|rk)_(?:live|test|prod)_[A-Za-z0-9]{8,}",
    ),
    ("stripe-webhook-secret", ("whsec_",), r"whsec_[A-Za-z0-9+/=]{24,}"),
    ("github-token", ("gh",), r"gh[pousr]_[A-Za-z0-9]{20,}"),
    ("github-fine-grained-pat", ("github_pat_",), r"github_pat_\w{20,}"),
    ("gitlab-pat", ("glpat-",), r"glpat-[\w-]{20,}"),
    ("slack-token", ("xox",), r"xox[abeoprs]-[A-Za-z0-9-]{10,}"),
    ("slack-app-token", ("xapp-",), r"(?i:xapp)-\d-[A-Za-z0-9]+-\d+-[A-Za-z0-9]+"),
    (
        "aws-access-token",
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
    ),
    ("gcp-api-key", ("AIza",), r"AIza[\w-]{35,}"),
    ("npm-access-token", ("npm_",), r"(?i:npm)_[A-Za-z0-9]{36,}"),
)

# Each part of the pattern runs only on a text holding what every match of it holds (a cheap
# ``in`` test each): most log text holds none, and most of the rest needs one or two parts.
# Every text key holds one of these words (a test checks), and so does every spelling of it.
_KEY_WORDS: tuple[str, ...] = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "jwt",
    "auth",
    "sig",
    "session",
)
_TOKEN_TRIGGERS: tuple[str, ...] = tuple(t for _, triggers, _ in _TOKEN_RULES for t in triggers)
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

# Texts at least this long are scanned only where a match can start (``Redactor._starts``);
# shorter ones by the whole pattern, cheaper for them.
_ANCHORED_TEXT = 256
# Characters the case-insensitive regex matches for an ASCII letter (long s for "s", the Kelvin sign
# for "k", dotless and dotted i) or whose lower case is longer: a text holding one is scanned whole.
_FOLDS = re.compile("[\u0130\u0131\u017f\u212a]")
# A match of a key form starts after a character that is not an ASCII letter or digit, or at a
# query separator.
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])|(?=[?&;])")
_UPPER_TRIGGERS = re.compile("|".join(t for t in _TOKEN_TRIGGERS if t[:1] == "A"))
_WORD_ASCII = frozenset(string.ascii_letters + string.digits + "_")

# Brackets separate too: ``user[password]`` (a form field, a query parameter) is a password key.
_KEY_SPLIT = re.compile(r"[-\s.\[\]]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# Authorization schemes written before the credential (RFC 9110 and common API schemes).
_SCHEMES = r"bearer|basic|token|apikey|api-key|digest|negotiate|ntlm|dpop|oauth|ssws|sso-key"
# A quoted value runs to its closing quote, past escaped quotes (``"a\"b"``), or to the end of the
# line when the quote is never closed (a cut line).
_QUOTED = r""""(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?"""
# Percent-encoded separators of a query parameter name: ``api%5Fkey``, ``user%5Bpassword%5D``.
_Q_SEP = r"(?:[-_.]|%5[Ff]|%2[Dd]|%2[Ee])"
_Q_OPEN = r"(?:\]?(?:\[|%5[Bb])|%5[Dd]%5[Bb])"
_Q_CLOSE = r"(?:\]|%5[Dd])"


def normalize_key(key: str) -> str:
    """Return the comparison form of a key, snake and lower case (``X-API-Key``: ``x_api_key``)."""
    return _KEY_SPLIT.sub("_", _CAMEL.sub("_", key.strip())).lower()


def _text_key_regex(keys: Iterable[str], sep: str = "[-_]") -> str:
    # ``api_key`` matches api_key, api-key, apiKey and API_KEY (and api%5Fkey in a query).
    parts = sorted({re.escape(k).replace("_", f"{sep}?") for k in keys}, key=len, reverse=True)
    return "|".join(parts)


def _text_parts(text_keys: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The built-in pattern as named alternatives, in match order (see ``Redactor._parts_for``)."""
    text_keys = tuple(text_keys)
    keys = _text_key_regex(text_keys)
    q_keys = _text_key_regex(text_keys, _Q_SEP)
    value = rf"(?:(?i:{_SCHEMES})\s+)?(?:{_QUOTED}|[^\s,;&{{}}\[\]()\"']+)"
    tokens = "|".join(regex for _, _, regex in _TOKEN_RULES)
    return (
        # a PEM private key block, BEGIN line to END line (or to the end of a cut text)
        (
            "pem",
            r"(?P<pem_p>(?i:-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----))"
            r"(?P<pem>[\s\S]*?(?:(?i:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)|\Z))",
        ),
        # credentials in a URL: scheme://user:PASSWORD@host (the password may hold "@": the last
        # "@" before the host ends it; bounded so that scanning stays linear)
        (
            "url",
            r"(?P<url_p>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:)(?P<url>[^\s?#]{1,256}?)"
            r"(?=@[\w.\-:\[\]%]*(?:[/?#\s\"'<>),;]|\Z))",
        ),
        # secret query parameters: ?token=...&api_key=..., user[password]=, api%5Fkey=
        (
            "q",
            rf"(?P<q_p>(?:^|[?&;])(?i:(?:[a-z0-9]+(?:{_Q_SEP}|{_Q_OPEN}))*"
            rf"(?:{q_keys}|key|auth|code){_Q_CLOSE}?)=)(?P<q>[^&#\s\"']+)",
        ),
        # a Cookie / Set-Cookie header in text: every cookie of it, to the end of the line
        (
            "ck",
            r"(?P<ck_p>(?<![A-Za-z0-9])[\"']?(?i:(?:set[-_]?)?cookie)[\"']?\s*[:=]\s*)"
            rf"(?P<ck>{_QUOTED}|[^\r\n\"']+)",
        ),
        # key=value, key: value, 'key': 'value', "key": "value" forms (reprs, messages, env),
        # snake, kebab or camel case (db_password, db-password, dbPassword). A name is matched
        # from its first word only: starting again after each "_" of a long a_b_c_... name
        # would make the scan quadratic.
        (
            "kv",
            r"(?P<kv_p>(?<![A-Za-z0-9])(?<![A-Za-z0-9][-_])[\"']?(?:[A-Za-z0-9]+[-_])*"
            rf"(?:[a-z0-9]+(?=[A-Z])|[A-Z][a-z0-9]+(?=[A-Z]))*(?i:{keys})[\"']?\s*[:=]\s*)"
            rf"(?P<kv>{value})",
        ),
        # Authorization schemes
        ("auth", r"(?P<auth_p>\b(?i:bearer|basic|token)\s+)(?P<auth>[A-Za-z0-9\-._~+/]{8,}=*)"),
        # JWTs (header.payload.signature, base64url, header starts with {" )
        ("jwt", r"(?P<jwt>\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"),
        # a Slack webhook URL: the path after the kind is the secret
        (
            "hook",
            r"(?P<hook_p>hooks\.slack\.com/(?:services|workflows|triggers)/)"
            r"(?P<hook>[A-Za-z0-9+/]{20,})",
        ),
        # provider API keys (``_TOKEN_RULES``)
        ("apikey", rf"(?P<apikey>\b(?:{tokens}))"),
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
        self._extra = tuple(re.compile(p) if isinstance(p, str) else p for p in patterns)
        self._key_cache: dict[str, bool] = {}
        # A key with no letter or digit ("", "_") would match before any ":" or "=": skip it.
        extra = tuple(k for k in map(normalize_key, extra_keys) if k.replace("_", ""))
        parts = _text_parts((*_TEXT_KEYS, *extra))
        self._parts = tuple(regex for _, regex in parts)
        self._bit = {name: 1 << index for index, (name, _) in enumerate(parts)}
        self._compiled: dict[int, re.Pattern[str]] = {}
        # An extra key is written in text as snake, kebab, camel or percent-encoded case: its
        # longest word is in every spelling of it.
        words = {max(k.split("_"), key=len) for k in extra}
        self._key_words = _KEY_WORDS + tuple(sorted(w for w in words if w))
        # A trigger holding "_" or "-" is only looked for when the text has that character: most
        # prose has no "_", and the provider prefixes ("sk_", "npm_", "glpat-") cost nothing then.
        self._upper_triggers = tuple(t for t in _TOKEN_TRIGGERS if t[:1] == "A")
        self._plain_triggers = tuple(
            t.lower() for t in _TOKEN_TRIGGERS if "_" not in t and "-" not in t and t[:1] != "A"
        )
        self._under_triggers = tuple(t for t in _TOKEN_TRIGGERS if "_" in t)
        self._dash_triggers = tuple(t for t in _TOKEN_TRIGGERS if "-" in t and "_" not in t)
        # "pin=1" is shorter than any built-in form: an extra key lowers the length worth a scan.
        self._min_text = min((_MIN_SECRET_TEXT, *(len(k.replace("_", "")) + 2 for k in extra if k)))
        #: Characters a string shorter than 13 may be made of and skip the scan (part of
        #: :meth:`skips_scan`'s rule, for the encoder's inline test): none with custom patterns.
        self.token_chars: frozenset[str] = frozenset() if self._extra else _TOKEN_ASCII

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
        if group in ("kv", "ck"):
            value = match.group(group)
            if value[:1] in "\"'":
                return f"{prefix}{value[0]}{marker}{value[0]}"
        return f"{prefix}{marker}"

    def skips_scan(self, text: str) -> bool:
        """Return whether ``text`` is certainly left unchanged, decided without scanning it.

        The one decision every shortcut takes (the encoder's fast paths included), so a fast
        path and the full scan always agree. ``True`` only for texts no built-in pattern can
        match (too short, a short plain token, hex digits and hyphens) and never when custom
        patterns are configured.
        """
        return not self._extra and (
            len(text) < self._min_text
            or (
                len(text) < _MIN_TOKEN_TEXT
                and (_TOKEN_ASCII.issuperset(text) or _PLAIN_TOKEN.fullmatch(text) is not None)
            )
            or not text.strip(_HEXISH)
        )

    def _parts_for(self, text: str, low: str | None = None) -> int:
        # The parts of the pattern that can match ``text``, as a bit mask (0: none). Each test is
        # nested under a character every match of its parts holds, so a line without ":", "=",
        # "_", "-" or "A" costs a handful of ``in`` tests. ``low``: ``text.lower()``.
        if low is None:
            low = text.lower()
        bit = self._bit
        mask = 0
        equals = "=" in text
        if equals or ":" in text:
            for word in self._key_words:
                if word in low:
                    mask |= bit["q"] | bit["kv"] if equals else bit["kv"]
                    break
            if equals and "code" in low:
                mask |= bit["q"]
            if "://" in text:
                mask |= bit["url"]
            if "cookie" in low:
                mask |= bit["ck"]
        if "bearer" in low or "basic" in low or "token" in low:
            mask |= bit["auth"]
        if "eyJ" in text:
            mask |= bit["jwt"]
        if "-" in text:
            if "-----" in text:
                mask |= bit["pem"]
            for trigger in self._dash_triggers:
                if trigger in low:
                    mask |= bit["apikey"]
                    break
        if "hooks.slack.com/" in text:
            mask |= bit["hook"]
        if not mask & bit["apikey"] and self._has_token_trigger(text, low):
            mask |= bit["apikey"]
        return mask

    def _has_token_trigger(self, text: str, low: str) -> bool:
        # The dash triggers were looked for by the caller.
        for trigger in self._plain_triggers:
            if trigger in low:
                return True
        if "_" in text:
            for trigger in self._under_triggers:
                if trigger in low:
                    return True
        if "A" in text:  # AWS and Google key ids are upper case: "AKIA", "ASIA", "AIza"
            for trigger in self._upper_triggers:
                if trigger in text:
                    return True
        return False

    def _pattern_for(self, mask: int) -> re.Pattern[str]:
        pattern = self._compiled.get(mask)
        if pattern is None:  # at most one per subset of the parts, kept in their order
            chosen = (regex for index, regex in enumerate(self._parts) if mask >> index & 1)
            pattern = self._compiled[mask] = re.compile("|".join(chosen))
        return pattern

    def redact_text(self, text: str) -> str:
        """Return ``text`` with every secret-looking value replaced by the marker."""
        if self.skips_scan(text):
            return text
        low = text.lower()
        mask = self._parts_for(text, low)
        if not mask:
            out = text
        elif len(text) < _ANCHORED_TEXT or (not text.isascii() and _FOLDS.search(text) is not None):
            out = self._pattern_for(mask).sub(self._replace, text)
        else:
            out = self._sub_anchored(text, low, mask)
        for pattern in self._extra:
            out = pattern.sub(self.marker, out)
        return out

    def _starts(self, text: str, low: str, mask: int) -> dict[int, int]:
        # Every position where a part of ``mask`` can start a match (a superset), each with the
        # parts that can start there. Each part is anchored on a literal it holds: the key forms
        # (kv, q, ck, url) on the first ":" or "=" after the match's start (no key holds one),
        # so they start in the run of non-space characters before it and after the separator
        # before; the others (auth, jwt, provider keys, hook, pem) exactly at their literal.
        # Only for texts whose lower case is position for position the same as the text and
        # holds no character the regex folds onto ASCII (``_FOLDS``), which the caller checks.
        bit = self._bit
        starts: dict[int, int] = {}
        find = text.find
        kv_q = (bit["kv"] | bit["q"]) & mask
        if mask & (bit["kv"] | bit["q"] | bit["ck"] | bit["url"]):
            rfind = text.rfind
            candidates = _CANDIDATE.finditer
            key_words = self._key_words
            colon = find(":")
            equal = find("=")
            after = 0  # the key of a separator starts after the separator before it
            while colon != -1 or equal != -1:
                if equal == -1 or (colon != -1 and colon < equal):
                    at = colon
                    colon = find(":", at + 1)
                else:
                    at = equal
                    equal = find("=", at + 1)
                floor, after = after, at + 1
                end = at - 1  # the key (or its quote) ends before the separator and spaces
                while end >= floor and text[end].isspace():
                    end -= 1
                if end < floor:
                    continue
                # The start of the run of non-space characters ending at ``end`` (only the
                # usual spaces are looked for: a rarer one makes the window longer, not wrong).
                lo = max(
                    floor,
                    rfind(" ", floor, end) + 1,
                    rfind("\n", floor, end) + 1,
                    rfind("\t", floor, end) + 1,
                    rfind("\r", floor, end) + 1,
                )
                name = low[lo : end + 1]
                parts = 0
                for word in key_words:
                    if word in name:
                        parts = kv_q
                        break
                if "code" in name:
                    parts |= bit["q"]
                if "cookie" in name:
                    parts |= bit["ck"]
                if text.startswith("//", at + 1):
                    parts |= bit["url"]
                parts &= mask
                if parts:
                    for found in candidates(text, lo, end + 1):
                        start = found.start()
                        starts[start] = starts.get(start, 0) | parts
        words: list[tuple[str, str, bool, int]] = []  # (text searched, literal, needs \b, part)
        if mask & bit["auth"]:
            auth = bit["auth"]
            words += [(low, "bearer", True, auth), (low, "basic", True, auth)]
            words.append((low, "token", True, auth))
        if mask & bit["jwt"]:
            words.append((text, "eyJ", True, bit["jwt"]))
        if mask & bit["hook"]:
            words.append((text, "hooks.slack.com/", False, bit["hook"]))
        if mask & bit["pem"]:
            words.append((low, "-----begin", False, bit["pem"]))
        if mask & bit["apikey"]:
            # The provider triggers, fewer searches: "sk-", "pk-" and "rk-" through "k-" (the
            # match starts one before it), the "_" and "-" ones only in a text holding "_" or
            # "-", the upper-case ones through one regex with a literal first character.
            provider = bit["apikey"]
            words += [(low, "gh", True, provider), (low, "xox", True, provider)]
            if "-" in text:
                words += [(low, "k-", True, provider), (low, "glpat-", True, provider)]
                words.append((low, "xapp-", True, provider))
            if "_" in text:
                words += [(low, "k_", True, provider), (low, "whsec_", True, provider)]
                words += [(low, "github_pat_", True, provider), (low, "npm_", True, provider)]
            for found in _UPPER_TRIGGERS.finditer(text):
                start = found.start()
                starts[start] = starts.get(start, 0) | provider
        for source, literal, boundary, part in words:
            shift = 1 if literal[0] == "k" else 0  # "sk-", "pk_": from the letter before
            at = source.find(literal)
            while at != -1:
                start = at - shift
                if start >= 0 and (not boundary or not start or text[start - 1] not in _WORD_ASCII):
                    starts[start] = starts.get(start, 0) | part
                at = source.find(literal, at + 1)
        return starts

    def _sub_anchored(self, text: str, low: str, mask: int) -> str:
        # ``pattern.sub`` tried only where a match can start (``_starts``): the same result, as a
        # match at one position does not depend on where the scan began.
        # At each position only the parts that can start there are tried: a part left out
        # cannot match there, so which one matches first is unchanged.
        pattern_for = self._pattern_for
        replace = self._replace
        starts = self._starts(text, low, mask)
        parts: list[str] = []
        last = 0
        for start in sorted(starts):
            if start < last:
                continue
            found = pattern_for(starts[start]).match(text, start)
            if found is not None:
                parts.append(text[last:start])
                parts.append(replace(found))
                last = found.end()
        if not parts:
            return text
        parts.append(text[last:])
        return "".join(parts)
