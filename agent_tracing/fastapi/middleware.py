"""``RequestLoggingMiddleware``: one ``http.request`` span, a correlation id and two lines per
request, in plain ASGI (no ``BaseHTTPMiddleware``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote_plus

from agent_tracing import (
    REDACTED,
    BoundLogger,
    Span,
    bind_contextvars,
    get_logger,
    get_sanitizer,
    new_correlation_id,
    reset_contextvars,
)
from agent_tracing.fastapi.correlation import (
    DEFAULT_CORRELATION_HEADERS,
    escape_rejected,
    is_header_safe,
    is_valid_correlation_id,
    survives_redaction,
)
from agent_tracing.fastapi.uvicorn import mark_logged

__all__ = ["DEFAULT_REDACTED_HEADERS", "RequestLoggingMiddleware"]

# ASGI types, defined here so that typing the middleware needs no framework import.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Request headers whose values are never logged (``redact_headers=`` adds more).
DEFAULT_REDACTED_HEADERS: frozenset[str] = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

_SERVER_ERROR_BODY = b'{"detail":"Internal Server Error"}'
_TRACED = frozenset({"http", "websocket"})


class RequestLoggingMiddleware:
    """Plain ASGI middleware: one ``http.request`` span, correlation id and logs per request.

    Lifespan (and any other scope type) passes straight through. For ``http`` and ``websocket``:

    * the correlation id comes from the first of ``headers`` the client sent, if ``validator``
      accepts it and the redaction leaves it unchanged (a secret-shaped value is never echoed back);
      else a new one from ``generator`` (a rejected value is logged at WARNING, escaped, truncated
      and redacted). It is bound for the whole request, set in ``request.state.correlation_id``
      and sent back on every response, unhandled errors included;
    * the response header is the one the client used, as it spelled in ``headers``: a client
      that sent ``X-Request-ID`` reads its id (or the id that replaced a rejected value) under
      ``X-Request-ID``. With no id header the new id goes under ``headers[0]``. One header is sent,
      never both (as asgi-correlation-id does with its single header); one the application set
      itself is kept;
    * an id from a custom ``generator`` is used only if it is header-safe (1 to 256 visible ASCII
      characters, see :func:`~agent_tracing.fastapi.correlation.is_header_safe`), ``validator``
      accepts it (a client echoing it back must not be refused) and the redaction leaves it
      unchanged; otherwise, or if the generator raises, a UUID4 from
      :func:`~agent_tracing.new_correlation_id` replaces it and one WARNING
      ``http.correlation_id.generator_rejected`` is logged per middleware (the same faulty
      generator would otherwise warn on every request). The header and the lines always carry
      the same id;
    * ``http.request.start`` (at ``start_level``) carries ``method``, ``path``, ``query`` (secret
      parameters redacted), ``client``, ``user_agent`` and ``headers`` (sensitive ones redacted);
    * ``http.request.end`` carries ``status_code``, ``duration_ms``, ``response_size`` and the
      ``user_id`` that authentication left in ``request.state.user_id``; its level
      is ERROR for 5xx, WARNING for 4xx, else INFO;
    * an unhandled exception is logged once, on the end line, at ERROR with its traceback; if no
      response was started the client gets a JSON 500 with the id header; the exception is then
      re-raised for the server (uvicorn's copy of it is dropped by :class:`LoggedExceptionFilter`).

    The end line is written when the application returns, so ``duration_ms`` includes background
    tasks, and their lines carry the request's id and span.

    Args:
        app: The ASGI application.
        headers: Request headers read for the id, in order; the id goes back under the one it
            was read from, a generated id under the first.
        validator: Accepts or rejects a client's id (default :func:`is_valid_correlation_id`),
            and a custom generator's.
        generator: Makes a new id (default a UUID4 string); its output is checked as above.
        skip_paths: Paths with no start/end lines (health checks); the id is still bound and
            returned, and an unhandled exception there is still logged.
        start_level: Level of the start line (the end line's level follows the status).
        logger: Logger (name or object) of the request lines.
        redact_headers: Header names whose values are redacted besides
            :data:`DEFAULT_REDACTED_HEADERS` and any secret-looking name (``X-Auth-Token``).
        redact_query: Query parameter names redacted besides secret-looking names.
        log_headers: Put the request headers on the start line.
        error_response: Send the 500 (with the id header) for an unhandled exception when the
            response has not started. Off, the framework's error handler answers, without the id
            header.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: Sequence[str] = DEFAULT_CORRELATION_HEADERS,
        validator: Callable[[str], bool] | None = is_valid_correlation_id,
        generator: Callable[[], str] = new_correlation_id,
        skip_paths: Iterable[str] = (),
        start_level: int | str = logging.INFO,
        logger: str | logging.Logger | BoundLogger = "agent_tracing.fastapi",
        redact_headers: Iterable[str] = (),
        redact_query: Iterable[str] = (),
        log_headers: bool = True,
        error_response: bool = True,
    ) -> None:
        if not headers:
            raise ValueError("headers must name at least one header")
        self.app = app
        self.header_names = tuple(headers)
        self._header_keys = tuple(name.lower().encode("latin-1") for name in self.header_names)
        self.validator = validator
        self.generator = generator
        self.skip_paths = frozenset(skip_paths)
        self.start_level = (
            start_level if isinstance(start_level, int) else logging.getLevelName(start_level)
        )
        if not isinstance(self.start_level, int):
            raise ValueError(f"unknown level {start_level!r}")
        if isinstance(logger, BoundLogger):
            self.logger = logger
        elif isinstance(logger, logging.Logger):
            self.logger = BoundLogger(logger)
        else:
            self.logger = get_logger(logger)
        self.redact_headers = DEFAULT_REDACTED_HEADERS | {h.lower() for h in redact_headers}
        self.redact_query = frozenset(q.lower() for q in redact_query)
        self.log_headers = log_headers
        self.error_response = error_response
        self._names_for: object = None
        self._names_cache: dict[bytes, tuple[str, bool]] = {}
        self._generator_warned = False

    # -- the request ---------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type not in _TRACED:
            await self.app(scope, receive, send)
            return
        correlation_id, header_key, rejected = self._correlation_id(scope)
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["correlation_id"] = correlation_id
        # Never lossy: a client's value came from Latin-1 bytes, a generated one is ASCII.
        id_header = (header_key, correlation_id.encode("latin-1"))
        status = 0
        size = 0
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, size, started
            kind = message["type"]
            if kind == "http.response.body":
                body = message.get("body")
                if body:
                    size += len(body)
            elif kind in {"http.response.start", "websocket.accept"}:
                started = True
                status = message.get("status", 101)
                message = _with_header(message, header_key, id_header)
            elif kind == "websocket.close" and not started:
                status = 403  # closed before accepting: the handshake was denied
            elif kind == "websocket.http.response.start":
                started = True
                status = message["status"]
                message = _with_header(message, header_key, id_header)
            await send(message)

        if scope["path"] in self.skip_paths:
            await self._skipped(scope, receive, send_wrapper, correlation_id, lambda: status)
            return

        method = scope.get("method", "GET")
        path = scope["path"]
        name = f"{method} {path}"
        logger = self.logger
        log_start = logger.isEnabledFor(self.start_level)
        span = Span(
            name,
            "http.request",
            logger=logger,
            level=self.start_level,
            data=self._safe_request_data(scope, method, path, rejected) if log_start else None,
            log_start=log_start,
            correlation_id=correlation_id,
        )
        span.start()
        if rejected is not None:
            self._log_rejected(*rejected)
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if not started:
                status = 500
                if self.error_response and scope_type == "http":
                    await self._send_error(send_wrapper)
            self._finish(span, state, status, size, exc)
            raise
        except BaseException as exc:  # cancelled (a client gone, a server stopping) or exiting
            self._finish(span, state, status, size, exc)
            raise
        else:
            if not started and scope_type == "http":
                # The app returned without answering: the server would send a bare 500.
                status = 500
                if self.error_response:
                    await self._send_error(send_wrapper)
            self._finish(span, state, status, size, None)

    def _correlation_id(self, scope: Scope) -> tuple[str, bytes, tuple[str, str] | None]:
        """The request's id, the response header it goes under, and (header, value) of a
        rejected client value."""
        try:
            return self._read_correlation_id(scope)
        except Exception:  # pragma: no cover - a malformed scope: the request still gets an id
            return new_correlation_id(), self._header_keys[0], None

    def _read_correlation_id(self, scope: Scope) -> tuple[str, bytes, tuple[str, str] | None]:
        keys = self._header_keys
        found: dict[bytes, bytes] | None = None
        for key, value in scope["headers"]:
            if key in keys:
                if found is None:
                    found = {}
                found.setdefault(key, value)
        if found is not None:
            for index, key in enumerate(keys):
                raw = found.get(key)
                if raw is None:
                    continue
                value = raw.decode("latin-1")
                if self._accepts(value):
                    return value, key, None
                return self._new_id(), key, (self.header_names[index], value)
        return self._new_id(), keys[0], None

    def _accepts(self, value: str) -> bool:
        """Whether the validator accepts ``value`` (a validator that raises refuses) and the
        redaction leaves it unchanged."""
        try:
            if self.validator is not None and not self.validator(value):
                return False
        except Exception:
            return False
        return survives_redaction(value)

    def _new_id(self) -> str:
        """A new id from the generator, or a UUID4 when its output cannot be sent and logged alike
        (warned once per middleware)."""
        generator = self.generator
        if generator is new_correlation_id:  # always a header-safe UUID4: nothing to check
            return new_correlation_id()
        value: object = None
        try:
            value = generator()
            if not isinstance(value, str):
                reason = f"returned {type(value).__name__}, not str"
            elif not is_header_safe(value):
                reason = "not 1 to 256 visible ASCII characters"
            elif not self._accepts(value):
                reason = "refused by the validator or changed by the redaction"
            else:
                return value
        except Exception as error:
            reason = f"raised {type(error).__name__}"
        replacement = new_correlation_id()
        if not self._generator_warned:
            self._generator_warned = True
            self._log_generator_rejected(value, reason, replacement)
        return replacement

    def _log_generator_rejected(self, value: object, reason: str, replacement: str) -> None:
        shown = value if isinstance(value, str) else repr(value)
        try:
            self.logger.warning(
                "The correlation id generator's output cannot be used (%s); using a UUID4 "
                "(logged once)",
                reason,
                event="http.correlation_id.generator_rejected",
                correlation_id=replacement,
                data={"reason": reason, "value": escape_rejected(shown), "length": len(shown)},
            )
        except Exception:  # pragma: no cover - logging never raises into the request
            pass

    def _log_rejected(self, header: str, value: str) -> None:
        try:
            self.logger.warning(
                "Rejected the client's correlation id; using a new one",
                event="http.correlation_id.rejected",
                data={"header": header, "value": escape_rejected(value), "length": len(value)},
            )
        except Exception:  # pragma: no cover - logging never raises into the request
            pass

    def _safe_request_data(
        self, scope: Scope, method: str, path: str, rejected: tuple[str, str] | None
    ) -> dict[str, Any]:
        try:
            return self._request_data(scope, method, path, rejected)
        except Exception as error:  # a malformed scope must not fail the request
            return {"method": method, "path": path, "_log_error": f"{type(error).__name__}"}

    def _request_data(
        self, scope: Scope, method: str, path: str, rejected: tuple[str, str] | None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"method": method, "path": path}
        query: bytes = scope.get("query_string") or b""
        data["query"] = self._redact_query(query.decode("latin-1")) if query else None
        client = scope.get("client")
        data["client"] = f"{client[0]}:{client[1]}" if client else None
        user_agent = None
        headers: dict[str, str] | None = {} if self.log_headers else None
        names = self._names()
        for raw_key, raw_value in scope["headers"]:
            if raw_key == b"user-agent":
                user_agent = raw_value.decode("latin-1")
            if headers is not None:
                known = names.get(raw_key)
                if known is None:
                    known = self._name(raw_key, names)
                key, secret = known
                value = REDACTED if secret else raw_value.decode("latin-1")
                # A repeated header keeps every value, comma-joined as HTTP allows.
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
        data["user_agent"] = user_agent
        if headers is not None:
            if rejected is not None:  # shown as in the warning: escaped and truncated
                headers[rejected[0].lower()] = escape_rejected(rejected[1])
            data["headers"] = headers
        if scope["type"] == "websocket":
            data["websocket"] = True
        return data

    def _names(self) -> dict[bytes, tuple[str, bool]]:
        """Header names seen so far: raw name -> (logged name, redacted?), for the redactor now
        configured (``configure_logging`` may install another)."""
        redactor = get_sanitizer().redactor
        if redactor is not self._names_for:
            self._names_for = redactor
            self._names_cache = {}
        return self._names_cache

    def _name(self, raw_key: bytes, names: dict[bytes, tuple[str, bool]]) -> tuple[str, bool]:
        key = raw_key.decode("latin-1").lower()
        known = (key, key in self.redact_headers or get_sanitizer().redactor.is_secret_key(key))
        if len(names) < 1024:  # a client inventing header names cannot grow it without bound
            names[raw_key] = known
        return known

    def _redact_query(self, query: str) -> str:
        is_secret = get_sanitizer().redactor.is_secret_key
        extra = self.redact_query
        parts = query.split("&")
        for index, part in enumerate(parts):
            key, sep, value = part.partition("=")
            if not sep or not value:
                continue
            name = unquote_plus(key)
            if name.lower() in extra or is_secret(name):
                parts[index] = f"{key}={REDACTED}"
        return "&".join(parts)

    def _finish(
        self,
        span: Span,
        state: MutableMapping[str, Any],
        status: int,
        size: int,
        exc: BaseException | None,
    ) -> None:
        try:
            if exc is None:
                level = (
                    logging.ERROR
                    if status >= 500
                    else (logging.WARNING if status >= 400 else logging.INFO)
                )
                outcome = "error" if status >= 500 else "ok"
            elif isinstance(exc, asyncio.CancelledError):
                level, outcome = logging.WARNING, "cancelled"
            else:
                level, outcome = logging.ERROR, "error"
                mark_logged(exc)
            data: dict[str, Any] = {"status_code": status, "response_size": size}
            user_id = state.get("user_id")
            message = (
                f"{span.name} {status}"
                if exc is None
                else f"{span.name} failed: {type(exc).__name__}"
            )
            span.finish(
                exc,
                status=outcome,
                level=level,
                message=message,
                data=data,
                fields={"user_id": user_id} if user_id is not None else None,
            )
        except Exception:  # pragma: no cover - Span.finish never raises; reset regardless
            span.finish(None)

    async def _skipped(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        correlation_id: str,
        status: Callable[[], int],
    ) -> None:
        """A skipped path: the id is bound and returned; only a failure is logged."""
        token = bind_contextvars(correlation_id=correlation_id)
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            code = status() or 500
            if not status() and self.error_response and scope["type"] == "http":
                await self._send_error(send)
            try:
                self.logger.error(
                    "%s %s failed: %s",
                    scope.get("method", "GET"),
                    scope["path"],
                    type(exc).__name__,
                    event="http.request.end",
                    data={"status_code": code, "status": "error", "path": scope["path"]},
                    exc_info=exc,
                )
            except Exception:  # pragma: no cover
                pass
            mark_logged(exc)
            raise
        finally:
            reset_contextvars(token)

    @staticmethod
    async def _send_error(send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_SERVER_ERROR_BODY)).encode()),
                        # The exception is re-raised, so the server drops the connection after
                        # this response: tell the client not to reuse it.
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _SERVER_ERROR_BODY})
        except Exception:  # the client is gone: nothing more to tell it
            pass


def _with_header(message: Message, key: bytes, header: tuple[bytes, bytes]) -> Message:
    """The message with the id header added (unless the app set one); the original is unchanged,
    since a response object may send the same header list again."""
    headers = message.get("headers") or ()
    for name, _ in headers:
        if name.lower() == key:
            return message
    return {**message, "headers": [*headers, header]}
