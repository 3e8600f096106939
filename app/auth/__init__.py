"""Authentication: Clerk-style RS256 bearer JWTs, and a development key pair for demo and tests."""

from app.auth.dev_keys import DEV_ISSUER, DevKeyPair, ensure_dev_keypair, mint_dev_token
from app.auth.tokens import AuthFailure, TokenVerifier, bearer_token, get_verifier

__all__ = [
    "DEV_ISSUER",
    "AuthFailure",
    "DevKeyPair",
    "TokenVerifier",
    "bearer_token",
    "ensure_dev_keypair",
    "get_verifier",
    "mint_dev_token",
]
