"""@require_user on real FastAPI routes: the user id bound, each refusal logged with its reason
at WARNING and answered 401, the token never in any line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from syrupy.assertion import SnapshotAssertion

import agent_tracing as at
from agent_tracing.testing import CapturedEvents
from app.auth import TokenVerifier, ensure_dev_keypair, mint_dev_token
from app.auth import tokens as auth_tokens
from app.db.utils.decorators import require_user
from app.settings import get_settings

ISSUER = "https://clerk.test.invalid"
log = at.get_logger("tests.app.routes", component="Routes")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The accepted development key pair, and a private key the server does not trust."""
    good = ensure_dev_keypair(tmp_path_factory.mktemp("good"))
    other = ensure_dev_keypair(tmp_path_factory.mktemp("other"))
    return {"private": good.private_pem, "public": good.public_pem, "other": other.private_pem}


def _token(keys: dict[str, bytes], sub: str = "user_123", **kwargs: Any) -> str:
    return mint_dev_token(sub, private_pem=keys["private"], issuer=ISSUER, audience="", **kwargs)


class _StateProbe:
    """An ASGI middleware reading ``scope["state"]`` after the app, as the request middleware
    does for its end line."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.seen.append(scope.get("state", {}).get("user_id"))


def _app(keys: dict[str, bytes]) -> tuple[TestClient, _StateProbe]:
    verifier = TokenVerifier(keys["public"], issuer=ISSUER)
    app = FastAPI()

    @app.get("/async/{item}")
    @require_user(verifier=verifier)
    async def read_async(request: Request, item: int) -> dict[str, Any]:
        log.info("handler ran", event="test.handler")
        return {"item": item, "context": at.current_context().get("user_id"),
                "state": request.state.user_id}  # fmt: skip

    @app.post("/sync")
    @require_user(verifier=lambda: verifier)
    def write_sync(request: Request) -> dict[str, Any]:
        log.info("handler ran", event="test.handler")
        return {"context": at.current_context().get("user_id"), "state": request.state.user_id}

    probe = _StateProbe(app)
    return TestClient(probe), probe


def test_a_valid_token_binds_the_user_on_async_and_sync_routes(
    keys: dict[str, bytes], log_events: CapturedEvents
) -> None:
    """200; the handler's context and request.state carry the subject; scope["state"] has it for
    the middleware; auth.success INFO and the handler's line carry user_id; the token is in no
    line."""
    client, probe = _app(keys)
    token = _token(keys)
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get("/async/7", headers=headers)
    second = client.post("/sync", headers=headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"item": 7, "context": "user_123", "state": "user_123"}
    assert second.json() == {"context": "user_123", "state": "user_123"}
    assert probe.seen == ["user_123", "user_123"]
    ours = [e for e in log_events.raw if e["event"] in ("auth.success", "test.handler")]
    assert [(e["event"], e["level"], e["user_id"], e["component"]) for e in ours] == [
        ("auth.success", "INFO", "user_123", "Auth"),
        ("test.handler", "INFO", "user_123", "Routes"),
        ("auth.success", "INFO", "user_123", "Auth"),
        ("test.handler", "INFO", "user_123", "Routes"),
    ]
    assert ours[0]["data"] == {"method": "GET", "path": "/async/7"}
    _assert_token_absent(log_events, token)
    assert at.current_context() == {}


def _assert_token_absent(log_events: CapturedEvents, token: str) -> None:
    text = json.dumps(log_events.raw)
    for part in (token, *token.split(".")):
        assert part not in text


def _refusals(keys: dict[str, bytes]) -> dict[str, str | None]:
    """Authorization header values, one per refusal reason."""
    hs256 = jwt.encode(
        {"sub": "user_123", "iat": 1, "exp": 4102444800, "iss": ISSUER},
        "a-shared-secret-of-32-bytes-at-least!",
        algorithm="HS256",
    )
    return {
        "missing_header": None,
        "malformed": "Basic dXNlcjpwYXNz",
        "malformed_jwt": "Bearer not-a-jwt",
        "expired": f"Bearer {_token(keys, expires_in=-3600)}",
        "bad_signature": "Bearer "
        + mint_dev_token("user_123", private_pem=keys["other"], issuer=ISSUER, audience=""),
        "not_yet_valid": f"Bearer {_token(keys, issued_at=4102444800)}",
        "bad_algorithm": f"Bearer {hs256}",
        "invalid_claims": "Bearer "
        + mint_dev_token(
            "user_123", private_pem=keys["private"], issuer="https://evil", audience=""
        ),
    }


def test_each_refusal_is_a_warning_with_its_reason_and_a_401(
    keys: dict[str, bytes], log_events: CapturedEvents, snapshot: SnapshotAssertion
) -> None:
    """Missing, malformed, expired, bad signature, not yet valid, bad algorithm, wrong issuer:
    401 with WWW-Authenticate, one auth.failed WARNING with the reason, the handler never runs,
    no token in any line."""
    client, probe = _app(keys)
    cases = _refusals(keys)
    statuses = {}
    for name, header in cases.items():
        headers = {} if header is None else {"Authorization": header}
        response = client.get("/async/1", headers=headers)
        statuses[name] = (response.status_code, response.headers.get("www-authenticate"))
    assert set(statuses.values()) == {(401, "Bearer")}
    failed = log_events.by_event("auth.failed")
    assert [(e["level"], e["data"]["reason"]) for e in failed] == [
        ("WARNING", name.removesuffix("_jwt")) for name in cases
    ]
    assert log_events.by_event("test.handler") == []
    assert probe.seen == [None] * len(cases)
    for header in cases.values():
        if header and header.startswith("Bearer "):
            _assert_token_absent(log_events, header.removeprefix("Bearer "))
    assert [e for e in log_events.events if e["event"] == "auth.failed"] == snapshot


def test_the_client_is_told_why(keys: dict[str, bytes]) -> None:
    """The 401 body names the reason without echoing the token."""
    client, _ = _app(keys)
    expired = _token(keys, expires_in=-3600)
    response = client.get("/async/1", headers={"Authorization": f"Bearer {expired}"})
    assert response.json() == {"detail": "Token expired"}
    assert client.get("/async/1").json() == {"detail": "Missing bearer token"}


def test_bare_decorator_uses_the_settings_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """@require_user without arguments verifies with the data dir's development key, and
    mint_dev_token signs with it by default."""
    monkeypatch.setenv("GENTRADE_DATA_DIR", str(tmp_path))
    for var in ("JWT_PUBLIC_KEY", "JWT_PUBLIC_KEY_FILE", "JWT_ISSUER", "JWT_AUDIENCE"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    auth_tokens._verifier_for.cache_clear()
    try:
        app = FastAPI()

        @app.get("/me")
        @require_user
        async def me(request: Request) -> dict[str, Any]:
            return {"user": at.current_context()["user_id"]}

        client = TestClient(app)
        token = mint_dev_token("user_42")
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert (response.status_code, response.json()) == (200, {"user": "user_42"})
    finally:
        get_settings.cache_clear()
        auth_tokens._verifier_for.cache_clear()


def test_a_route_without_request_is_refused_at_decoration() -> None:
    """Decorating a function with no Request parameter is a TypeError at import time."""
    with pytest.raises(TypeError, match="request: Request"):

        @require_user
        async def no_request(item: int) -> None:
            return None


def test_the_user_reaches_service_and_sql_lines(
    keys: dict[str, bytes], tmp_path: Path, log_events: CapturedEvents
) -> None:
    """A sync route (run in FastAPI's thread pool) calling a service: the service, repository and
    SQL lines all carry the token's user id, with no code at the call site."""
    from app.db.services import StrategiesService
    from app.db.session import Database, create_db_engine
    from app.settings import Settings

    database = Database(create_db_engine(Settings(data_dir=tmp_path)))
    database.create_all()
    verifier = TokenVerifier(keys["public"], issuer=ISSUER)
    app = FastAPI()

    @app.post("/strategies")
    @require_user(verifier=verifier)
    def create(request: Request) -> dict[str, Any]:
        strategy = StrategiesService(database.sessions).create_strategy(
            request.state.user_id, "Buy the dip"
        )
        return {"id": strategy.id}

    try:
        log_events.clear()
        response = TestClient(app).post(
            "/strategies", headers={"Authorization": f"Bearer {_token(keys, sub='user_77')}"}
        )
    finally:
        database.dispose()
    assert response.json() == {"id": 1}
    lines = [e for e in log_events.raw if e["logger"].startswith(("app.", "agent_tracing."))]
    assert {e["component"] for e in lines} >= {"Auth", "StrategiesService", "sqlalchemy"}
    assert {e["user_id"] for e in lines} == {"user_77"}
