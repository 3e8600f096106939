"""Token verification: the reasons a token is refused, audience and authorized parties, keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.auth import AuthFailure, TokenVerifier, bearer_token, ensure_dev_keypair, mint_dev_token
from app.auth.tokens import resolve_public_key
from app.settings import Settings


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A development key pair (private, public)."""
    pair = ensure_dev_keypair(tmp_path_factory.mktemp("keys"))
    return pair.private_pem, pair.public_pem


def _reason(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthFailure) as raised:
        verifier.verify(token)
    assert token not in str(raised.value)
    return raised.value.reason


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_header"),
        ("   ", "missing_header"),
        ("Token abc", "malformed"),
        ("Bearer", "malformed"),
        ("Bearer a b", "malformed"),
    ],
)
def test_bearer_header_forms(header: str | None, reason: str) -> None:
    """Only ``Bearer <one token>`` passes; the rest are missing or malformed."""
    with pytest.raises(AuthFailure) as raised:
        bearer_token(header)
    assert raised.value.reason == reason


def test_bearer_is_case_insensitive() -> None:
    """``bearer`` and extra spaces around the value are accepted."""
    assert bearer_token("bearer  abc.def.ghi ") == "abc.def.ghi"


def test_audience_and_authorized_parties(pem: tuple[bytes, bytes]) -> None:
    """An audience or azp outside the configured ones is invalid_claims; inside, accepted."""
    private, public = pem
    strict = TokenVerifier(public, audience=["api"], authorized_parties=["http://127.0.0.1"])
    good = mint_dev_token("u1", private_pem=private, issuer="i", audience="api")
    assert strict.verify(good)["sub"] == "u1"
    other_aud = mint_dev_token("u1", private_pem=private, issuer="i", audience="web")
    assert _reason(strict, other_aud) == "invalid_claims"
    other_azp = mint_dev_token(
        "u1", private_pem=private, issuer="i", audience="api", claims={"azp": "https://evil"}
    )
    assert _reason(strict, other_azp) == "invalid_claims"
    no_sub = mint_dev_token("", private_pem=private, issuer="i", audience="api")
    assert _reason(strict, no_sub) == "invalid_claims"


def test_leeway_accepts_small_clock_skew(pem: tuple[bytes, bytes]) -> None:
    """A token expired two seconds ago passes with the default five seconds of leeway."""
    private, public = pem
    token = mint_dev_token("u1", private_pem=private, issuer="i", audience="", expires_in=-2)
    assert TokenVerifier(public).verify(token)["sub"] == "u1"
    assert _reason(TokenVerifier(public, leeway_seconds=0), token) == "expired"


def test_public_key_resolution(tmp_path: Path, pem: tuple[bytes, bytes]) -> None:
    """JWT_PUBLIC_KEY wins, then JWT_PUBLIC_KEY_FILE, then the development key; production
    without a key refuses to start."""
    _, public = pem
    key_file = tmp_path / "clerk.pem"
    key_file.write_bytes(public)
    assert resolve_public_key(Settings(jwt_public_key=public.decode())) == public
    assert resolve_public_key(Settings(jwt_public_key_file=key_file)) == public
    dev = resolve_public_key(Settings(data_dir=tmp_path))
    assert dev == ensure_dev_keypair(tmp_path).public_pem
    with pytest.raises(RuntimeError, match="JWT_PUBLIC_KEY"):
        resolve_public_key(Settings(environment="production", data_dir=tmp_path / "prod"))
    assert not (tmp_path / "prod").exists()
