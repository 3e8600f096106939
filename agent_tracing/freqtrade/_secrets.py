"""Secrets of a freqtrade command: found in its config files, environment and arguments, then
scrubbed out of every line by value.

Freqtrade prints configuration values back (a schema error quotes the offending value; argparse
echoes an unknown flag with its value), so key-based redaction alone is not enough: every secret
value known before the command starts is replaced wherever it appears in its output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent_tracing.redaction import REDACTED, Redactor, normalize_key

__all__ = ["FREQTRADE_SECRET_KEYS", "SecretScrubber", "collect_secrets"]

#: Config keys freqtrade treats as secret (and a few it does not redact itself, such as
#: ``api_server.jwt_secret_key`` and ``ws_token``), compared after normalisation.
FREQTRADE_SECRET_KEYS: frozenset[str] = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "secret",
        "password",
        "uid",
        "account_id",
        "wallet_address",
        "private_key",
        "token",
        "chat_id",
        "webhook_url",
        "jwt_secret_key",
        "ws_token",
    }
)
# ``webhook.url`` and ``discord.webhook_url`` carry the whole secret in the URL.
_SECRET_URL_PARENTS = frozenset({"webhook", "discord"})
#: Shorter values are not scrubbed by value: replacing "1" or "ab" everywhere would destroy the
#: text and protect nothing.
MIN_SECRET_LENGTH = 4
# Flags whose value is a secret whatever freqtrade does with it (an unknown flag is echoed back).
_SECRET_FLAG = re.compile(r"^--?[A-Za-z0-9_-]*(?:key|secret|password|passwd|token|pwd|uid)$", re.I)
_JSON_COMMENT = re.compile(r'("(?:[^"\\]|\\.)*")|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_STRING_FIELD = re.compile(r'"([A-Za-z0-9_]+)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_redactor = Redactor()


def _is_secret_key(key: str, parent: str | None) -> bool:
    norm = normalize_key(key)
    if norm in FREQTRADE_SECRET_KEYS or _redactor.is_secret_key(key):
        return True
    return norm == "url" and parent in _SECRET_URL_PARENTS


def _url_secrets(value: str) -> Iterator[str]:
    # db_url and friends: only the password part is secret, the rest is useful to read.
    try:
        parts = urlsplit(value)
    except ValueError:
        return
    if parts.password:
        yield parts.password


def _walk(node: Any, parent: str | None, in_ccxt: bool) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            name = str(key)
            ccxt = in_ccxt or normalize_key(name).startswith("ccxt")
            secret = _is_secret_key(name, parent) or (ccxt and _redactor.is_secret_key(name))
            if secret and isinstance(value, (str, int)) and not isinstance(value, bool):
                yield str(value)
            elif secret and isinstance(value, list):  # ws_token may be a list of tokens
                yield from (str(item) for item in value if isinstance(item, (str, int)))
            else:
                yield from _walk(value, normalize_key(name), ccxt)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, parent, in_ccxt)
    elif isinstance(node, str) and "://" in node:
        yield from _url_secrets(node)


def load_config(path: Path) -> tuple[str | None, Any]:
    """Return a config file's text and its parsed JSON (comments and trailing commas allowed);
    ``(None, None)`` when unreadable, ``(text, None)`` when not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, None
    cleaned = _TRAILING_COMMA.sub(r"\1", _JSON_COMMENT.sub(lambda m: m.group(1) or "", text))
    try:
        return text, json.loads(cleaned)
    except ValueError:
        return text, None


def config_secrets(path: Path) -> list[str]:
    """Return the secret values of one freqtrade config file (JSON with comments allowed).

    A file that cannot be parsed as JSON is still scanned for ``"key": "value"`` pairs of secret
    keys, so a broken config never leaks what it holds; an unreadable file gives nothing.
    """
    text, config = load_config(path)
    if text is None:
        return []
    if config is not None:
        return list(_walk(config, None, False))
    found = [v for k, v in _STRING_FIELD.findall(text) if _is_secret_key(k, None)]
    for _, value in _STRING_FIELD.findall(text):
        found.extend(_url_secrets(value))
    return found


def env_secrets(env: Mapping[str, str]) -> list[str]:
    """Return the values of environment variables named like secrets.

    ``FREQTRADE__EXCHANGE__SECRET`` (freqtrade's config override form) is judged by its last
    part, so ``FREQTRADE__EXCHANGE__KEY`` counts; ``DATABASE_URL`` gives its password.
    """
    found: list[str] = []
    for name, value in env.items():
        last = name.split("__")[-1]
        if _redactor.is_secret_key(name) or _is_secret_key(last, None):
            found.append(value)
        elif "://" in value:
            found.extend(_url_secrets(value))
    return found


def argument_secrets(args: Sequence[str]) -> list[str]:
    """Return the values of secret-named flags (``--api-key X``, ``--password=X``) and URL
    passwords found in ``args``."""
    found: list[str] = []
    for i, arg in enumerate(args):
        flag, eq, value = arg.partition("=")
        if eq and _SECRET_FLAG.match(flag):
            found.append(value)
        elif _SECRET_FLAG.match(arg) and i + 1 < len(args):
            found.append(args[i + 1])
        if "://" in arg:
            found.extend(_url_secrets(arg))
    return found


def collect_secrets(
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    config_paths: Iterable[Path] = (),
    extra: Iterable[str] = (),
) -> frozenset[str]:
    """Return every secret value of a command (see the module docstring), short ones left out."""
    values: list[str] = [*argument_secrets(args), *extra]
    if env:
        values.extend(env_secrets(env))
    for path in config_paths:
        values.extend(config_secrets(path))
    return frozenset(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH)


class SecretScrubber:
    """Replace known secret values, then secret-looking patterns, in text.

    Args:
        secrets: Literal values to replace wherever they appear.
        redactor: The pattern redactor applied after (default: the core's defaults).
    """

    def __init__(self, secrets: Iterable[str] = (), redactor: Redactor | None = None) -> None:
        ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.count = len(ordered)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._redactor = redactor or _redactor

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret replaced by the marker."""
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return self._redactor.redact_text(text)

    def args(self, args: Sequence[str]) -> list[str]:
        """Return ``args`` scrubbed, the value after a secret-named flag replaced too."""
        out: list[str] = []
        hide_next = False
        for arg in args:
            if hide_next:
                out.append(REDACTED)
                hide_next = False
                continue
            flag, eq, _ = arg.partition("=")
            if eq and _SECRET_FLAG.match(flag):
                out.append(f"{flag}={REDACTED}")
                continue
            hide_next = bool(_SECRET_FLAG.match(arg))
            out.append(self(arg))
        return out
