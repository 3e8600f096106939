"""Authentication benchmark: verifying a bearer JWT, ours beside plain PyJWT, in one run.

- verify: ``TokenVerifier.verify`` (key loaded once, reasons mapped) beside ``jwt.decode`` with
  the PEM text (what a route would do by hand: PyJWT loads the key on every call);
- authenticate: ``authenticate(request)`` as ``@require_user`` runs it (header parsing,
  verification, ``request.state``, the ``auth.success`` JSON line to a file) beside the same
  plain ``jwt.decode``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jwt
from starlette.requests import Request

import agent_tracing as at
from app.auth import TokenVerifier, ensure_dev_keypair, mint_dev_token
from app.db.utils.decorators import authenticate

CALLS = int(os.environ.get("BENCH_CALLS", "2000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
TMP = tempfile.mkdtemp(prefix="at-bench-auth-")
PAIR = ensure_dev_keypair(Path(TMP))
TOKEN = mint_dev_token("user_123", private_pem=PAIR.private_pem, issuer="iss", audience="")
VERIFIER = TokenVerifier(PAIR.public_pem, issuer="iss")
PEM = PAIR.public_pem.decode()


def _request() -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/strategies/1",
        "headers": [(b"authorization", f"Bearer {TOKEN}".encode())],
        "query_string": b"",
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
    }
    return Request(scope)


def plain() -> None:
    jwt.decode(TOKEN, PEM, algorithms=["RS256"], issuer="iss", options={"verify_aud": False})


def ours_verify() -> None:
    VERIFIER.verify(TOKEN)


def ours_authenticate() -> None:
    authenticate(_request(), VERIFIER)


def main() -> None:
    at.configure_logging(console=False, json_output=os.path.join(TMP, "auth.jsonl"))
    cases: dict[str, Callable[[], None]] = {
        "plain": plain,
        "verify": ours_verify,
        "authenticate": ours_authenticate,
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for repeat in range(REPEATS + 1):
        for name, call in cases.items():
            start = time.perf_counter_ns()
            for _ in range(CALLS):
                call()
            if repeat:  # the first round only warms up
                samples[name].append((time.perf_counter_ns() - start) / CALLS / 1000)
    at.shutdown_logging()
    m = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"\nbearer JWT (RS256, 2048-bit): median µs per call, {REPEATS} interleaved rounds of "
        f"{CALLS} calls, {time.strftime('%Y-%m-%d')}"
    )
    print("| case | ours µs | anchor | anchor µs | ours / anchor |")
    print("|---|---|---|---|---|")
    for case, mine in (("verify a token", "verify"), ("authenticate a request", "authenticate")):
        print(
            f"| {case} | {m[mine]:.1f} | jwt.decode with the PEM | {m['plain']:.1f} | "
            f"{m[mine] / m['plain']:.2f} |"
        )


if __name__ == "__main__":
    main()
