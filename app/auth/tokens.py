"""Verifying Clerk-style bearer JWTs (RS256) and naming why a token was refused.

A refusal is an :class:`AuthFailure` with a ``reason`` from :data:`REASONS`: ``missing_header``,
``malformed`` (not ``Bearer <jwt>``, or not a JWT), ``expired``, ``not_yet_valid``,
``bad_signature``, ``bad_algorithm`` (anything but RS256) or ``invalid_claims`` (issuer, audience,
authorized party, a missing ``sub``). Its text never contains the token.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.settings import Settings, get_settings

__all__ = ["REASONS", "AuthFailure", "TokenVerifier", "bearer_token", "get_verifier"]

REASONS: tuple[str, ...] = (
    "missing_header",
    "malformed",
    "expired",
    "not_yet_valid",
    "bad_signature",
    "bad_algorithm",
    "invalid_claims",
)
_PUBLIC_MESSAGES = {
    "missing_header": "Missing bearer token",
    "malformed": "Malformed bearer token",
    "expired": "Token expired",
    "not_yet_valid": "Token not yet valid",
    "bad_signature": "Invalid token signature",
    "bad_algorithm": "Invalid token algorithm",
    "invalid_claims": "Invalid token claims",
}


class AuthFailure(Exception):
    """A refused token: ``reason`` (one of :data:`REASONS`) and a ``detail`` safe to log."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    @property
    def public_message(self) -> str:
        """What the client is told."""
        return _PUBLIC_MESSAGES.get(self.reason, "Not authenticated")


def bearer_token(authorization: str | None) -> str:
    """Return the token of an ``Authorization: Bearer <token>`` header value.

    Raises:
        AuthFailure: ``missing_header`` without a value, ``malformed`` for another form.
    """
    if authorization is None or not authorization.strip():
        raise AuthFailure("missing_header", "no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthFailure("malformed", "the Authorization scheme is not Bearer")
    token = token.strip()
    if not token or " " in token:
        raise AuthFailure("malformed", "the Bearer value is not one token")
    return token


class TokenVerifier:
    """Verify RS256 JWTs with one public key, as Clerk's networkless verification does.

    Args:
        public_key: The PEM public key.
        issuer: Required ``iss`` (not checked when ``None``).
        audience: Accepted ``aud`` values (not checked when empty; Clerk session tokens have none).
        authorized_parties: Accepted ``azp`` values (not checked when empty).
        leeway_seconds: Clock skew allowed on ``exp`` / ``nbf`` / ``iat``.
    """

    algorithms = ("RS256",)

    def __init__(
        self,
        public_key: str | bytes,
        *,
        issuer: str | None = None,
        audience: Sequence[str] = (),
        authorized_parties: Sequence[str] = (),
        leeway_seconds: float = 5.0,
    ) -> None:
        self._key = _load_rsa_public_key(public_key)
        self.issuer = issuer
        self.audience = tuple(audience)
        self.authorized_parties = tuple(authorized_parties)
        self.leeway_seconds = leeway_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        """The verifier the settings describe (the development key when none is configured)."""
        return cls(
            resolve_public_key(settings),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            authorized_parties=settings.jwt_authorized_parties,
            leeway_seconds=settings.jwt_leeway_seconds,
        )

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of a valid token.

        Raises:
            AuthFailure: The token is refused (see the module docstring for the reasons).
        """
        options: Any = {"require": ["exp", "iat", "sub"]}  # jwt.types.Options (PyJWT 2.10+)
        if not self.audience:
            options["verify_aud"] = False
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=list(self.algorithms),
                issuer=self.issuer,
                audience=list(self.audience) or None,
                leeway=self.leeway_seconds,
                options=options,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthFailure("expired", str(exc)) from None
        except jwt.ImmatureSignatureError as exc:
            raise AuthFailure("not_yet_valid", str(exc)) from None
        except jwt.InvalidSignatureError as exc:  # a DecodeError: test it first
            raise AuthFailure("bad_signature", str(exc)) from None
        except jwt.InvalidAlgorithmError as exc:
            raise AuthFailure("bad_algorithm", str(exc)) from None
        except jwt.DecodeError as exc:
            raise AuthFailure("malformed", str(exc)) from None
        except jwt.InvalidTokenError as exc:  # issuer, audience, required claims
            raise AuthFailure("invalid_claims", str(exc)) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthFailure("invalid_claims", "the sub claim is empty")
        if self.authorized_parties and claims.get("azp") not in self.authorized_parties:
            raise AuthFailure("invalid_claims", "the azp claim is not an authorized party")
        return claims


def _load_rsa_public_key(public_key: str | bytes) -> RSAPublicKey:
    pem = public_key.encode() if isinstance(public_key, str) else public_key
    key = load_pem_public_key(pem)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the JWT public key must be an RSA key")
    return key


def resolve_public_key(settings: Settings) -> bytes:
    """The PEM public key: ``JWT_PUBLIC_KEY``, else ``JWT_PUBLIC_KEY_FILE``, else (outside
    production) the development key of the data dir.

    Raises:
        RuntimeError: In production without a configured key.
    """
    if settings.jwt_public_key:
        return settings.jwt_public_key.encode()
    if settings.jwt_public_key_file:
        return Path(settings.jwt_public_key_file).read_bytes()
    if settings.environment == "production":
        raise RuntimeError("JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE is required in production")
    from app.auth.dev_keys import ensure_dev_keypair

    return ensure_dev_keypair(settings.data_dir).public_pem


@functools.lru_cache(maxsize=8)
def _verifier_for(settings: Settings) -> TokenVerifier:
    return TokenVerifier.from_settings(settings)


def get_verifier(settings: Settings | None = None) -> TokenVerifier:
    """The verifier of ``settings`` (default :func:`app.settings.get_settings`), built once."""
    return _verifier_for(settings or get_settings())
