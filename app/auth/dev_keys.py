"""DEVELOPMENT ONLY: an RSA key pair generated at run time, and tokens signed with it.

Production verifies Clerk's tokens with Clerk's public key (``JWT_PUBLIC_KEY``); no private key is
ever needed there. For the demo and the tests, the first process that needs a key generates one
into ``<data dir>/dev_keys/jwt_private_key.pem`` (mode 0600, created atomically, so the web and
worker processes and the demo client all agree on it) and :func:`mint_dev_token` signs
Clerk-shaped tokens with it. Never point a deployed service at this key.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["DEV_ISSUER", "DevKeyPair", "dev_key_path", "ensure_dev_keypair", "mint_dev_token"]

#: The issuer of development tokens (used when ``JWT_ISSUER`` is not set).
DEV_ISSUER = "https://gentrade.dev.invalid"
#: The authorized party (Clerk's ``azp``) of development tokens.
DEV_AUTHORIZED_PARTY = "http://127.0.0.1"


@dataclass(frozen=True)
class DevKeyPair:
    """A development RSA key pair in PEM form (the private key never leaves the data dir)."""

    private_pem: bytes
    public_pem: bytes

    def __repr__(self) -> str:
        return "DevKeyPair(private_pem=<hidden>, public_pem=<...>)"


def dev_key_path(data_dir: Path) -> Path:
    """Where the development private key lives under ``data_dir``."""
    return data_dir / "dev_keys" / "jwt_private_key.pem"


def _public_pem(private_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def ensure_dev_keypair(data_dir: Path) -> DevKeyPair:
    """Return the development key pair of ``data_dir``, generating it on first use.

    Safe when several processes start at once: the key is written to a temporary file and linked
    into place, so exactly one key wins and everyone reads that one.
    """
    path = dev_key_path(data_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    private_pem = path.read_bytes()
    return DevKeyPair(private_pem=private_pem, public_pem=_public_pem(private_pem))


def mint_dev_token(
    subject: str,
    *,
    data_dir: Path | None = None,
    private_pem: bytes | None = None,
    issuer: str | None = None,
    audience: str | None = None,
    expires_in: float = 3600,
    issued_at: float | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """Sign a Clerk-shaped development token for ``subject`` (the Clerk user id).

    Args:
        subject: The ``sub`` claim (``user_123``).
        data_dir: Whose development key signs it (default the settings' data dir).
        private_pem: Sign with this key instead.
        issuer: The ``iss`` claim (default ``JWT_ISSUER``, else :data:`DEV_ISSUER`).
        audience: An ``aud`` claim (default ``JWT_AUDIENCE``'s first entry, else none, as Clerk).
        expires_in: Seconds until ``exp`` (negative for an already expired token).
        issued_at: ``iat`` / ``nbf`` (default now).
        claims: More claims, which win.
    """
    if private_pem is None or issuer is None or audience is None:
        from app.settings import get_settings

        settings = get_settings()
        if private_pem is None:
            private_pem = ensure_dev_keypair(data_dir or settings.data_dir).private_pem
        issuer = issuer or settings.jwt_issuer or DEV_ISSUER
        if audience is None and settings.jwt_audience:
            audience = settings.jwt_audience[0]
    now = time.time() if issued_at is None else issued_at
    payload: dict[str, Any] = {
        "sub": subject,
        "iss": issuer,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now + expires_in),
        "azp": DEV_AUTHORIZED_PARTY,
        "sid": f"sess_dev_{uuid.uuid4().hex[:16]}",
    }
    if audience:
        payload["aud"] = audience
    payload.update(claims or {})
    return jwt.encode(payload, private_pem, algorithm="RS256", headers={"kid": "gentrade-dev"})
