"""``@require_user``: a route accepts a Clerk-style bearer JWT or answers 401.

On success the token's subject (the Clerk user id) is bound as ``user_id`` for every line the
handler logs, stored in ``request.state.user_id`` (the request middleware reads it from
``scope["state"]`` for the request's end line) and an ``auth.success`` INFO line is logged. On
failure an ``auth.failed`` WARNING line gives the reason (``missing_header``, ``malformed``,
``expired``, ``not_yet_valid``, ``bad_signature``, ``bad_algorithm``, ``invalid_claims``) and the
client gets 401 with ``WWW-Authenticate: Bearer``. The token itself is never logged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from fastapi import HTTPException, Request

import agent_tracing as at
from app.auth.tokens import AuthFailure, TokenVerifier, bearer_token, get_verifier
from app.util.logger import setup_logger

__all__ = ["authenticate", "require_user"]

F = TypeVar("F", bound=Callable[..., Any])
log = setup_logger(__name__, component="Auth")

VerifierSource = TokenVerifier | Callable[[], TokenVerifier] | None


def _verifier(source: VerifierSource) -> TokenVerifier:
    if source is None:
        return get_verifier()
    if isinstance(source, TokenVerifier):
        return source
    return source()


def authenticate(request: Request, verifier: VerifierSource = None) -> str:
    """Verify the request's bearer token and return the user id (the ``sub`` claim).

    Logs the attempt and sets ``request.state.user_id``; does not bind the context (the caller
    decides for how long).

    Raises:
        HTTPException: 401 when the token is missing or refused.
    """
    where = {"method": request.method, "path": request.url.path}
    try:
        token = bearer_token(request.headers.get("authorization"))
        claims = _verifier(verifier).verify(token)
    except AuthFailure as failure:
        log.warning(
            "Authentication failed: %s",
            failure.reason,
            event="auth.failed",
            data={"reason": failure.reason, "detail": failure.detail, **where},
        )
        raise HTTPException(
            status_code=401,
            detail=failure.public_message,
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    user_id: str = claims["sub"]
    request.state.user_id = user_id
    log.info("Authenticated", event="auth.success", user_id=user_id, data=where)
    return user_id


def _find_request(args: tuple[Any, ...], kwargs: dict[str, Any], name: str | None) -> Request:
    if name is not None and isinstance(kwargs.get(name), Request):
        return cast(Request, kwargs[name])
    for value in (*args, *kwargs.values()):
        if isinstance(value, Request):
            return value
    raise TypeError("@require_user: the route was called without its Request")


def _request_parameter(func: Callable[..., Any]) -> str:
    for parameter in inspect.signature(func).parameters.values():
        annotation = parameter.annotation
        if annotation is Request or annotation == "Request" or parameter.name == "request":
            return parameter.name
    raise TypeError(f"@require_user needs a `request: Request` parameter on {func.__qualname__}")


@overload
def require_user(func: F) -> F: ...
@overload
def require_user(*, verifier: VerifierSource = None) -> Callable[[F], F]: ...
def require_user(func: F | None = None, *, verifier: VerifierSource = None) -> Any:
    """Require a valid bearer JWT on a FastAPI route (sync or async) with a ``request`` parameter.

    Use bare (``@require_user``, the key from the settings) or with a verifier
    (``@require_user(verifier=TokenVerifier(pem))``). Put it under the route decorator::

        @router.get("/strategies/{strategy_id}")
        @require_user
        async def read_strategy(request: Request, strategy_id: int) -> StrategyOut: ...

    Args:
        func: The route function.
        verifier: A :class:`TokenVerifier` or a function returning one (default: the settings').
    """

    def decorate(route: F) -> F:
        name = _request_parameter(route)
        if inspect.iscoroutinefunction(route):

            @functools.wraps(route)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                user_id = authenticate(_find_request(args, kwargs, name), verifier)
                with at.bind(user_id=user_id):
                    return await route(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(route)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user_id = authenticate(_find_request(args, kwargs, name), verifier)
            with at.bind(user_id=user_id):
                return route(*args, **kwargs)

        return cast(F, wrapper)

    return decorate(func) if func is not None else decorate
