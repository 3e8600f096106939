"""The development key pair: generated once per data dir, private, the same for every process."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt

from app.auth.dev_keys import DEV_ISSUER, dev_key_path, ensure_dev_keypair, mint_dev_token


def test_generated_once_and_private(tmp_path: Path) -> None:
    """Concurrent first uses agree on one key; the file is mode 0600; repr hides the key."""
    with ThreadPoolExecutor(4) as pool:
        pairs = list(pool.map(lambda _: ensure_dev_keypair(tmp_path), range(4)))
    assert len({p.private_pem for p in pairs}) == 1
    assert stat.S_IMODE(dev_key_path(tmp_path).stat().st_mode) == 0o600
    assert "PRIVATE" not in repr(pairs[0])
    assert [p.name for p in dev_key_path(tmp_path).parent.iterdir()] == ["jwt_private_key.pem"]


def test_minted_tokens_look_like_clerk_session_tokens(tmp_path: Path) -> None:
    """sub, iss, iat, nbf, exp, azp and sid, RS256 with a kid, verifiable with the public key."""
    pair = ensure_dev_keypair(tmp_path)
    token = mint_dev_token("user_1", private_pem=pair.private_pem, issuer=DEV_ISSUER, audience="")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, pair.public_pem, algorithms=["RS256"], issuer=DEV_ISSUER)
    assert (header["alg"], header["kid"]) == ("RS256", "gentrade-dev")
    assert set(claims) == {"sub", "iss", "iat", "nbf", "exp", "azp", "sid"}
    assert claims["exp"] - claims["iat"] == 3600
