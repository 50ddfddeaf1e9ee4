"""Hardening around the application: request ids, security headers, CORS, a request body limit,
an access log without patient data, logging that withholds exception messages, and the
in-process token buckets behind per-credential rate limiting.

Order, outermost first: request id -> access log -> security headers -> CORS -> body limit.
"""

import contextvars
import logging
import math
import re
import sys
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, HTTPException, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.common.nul import MESSAGE as NUL_MESSAGE
from app.common.nul import NUL
from app.config import Settings
from app.errors import FieldIssue, problem_response

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("vertebro.access")


# --- request id ----------------------------------------------------------------------------
class RequestIdMiddleware:
    """Takes a well-formed incoming X-Request-ID or makes one; returns it and exposes it to
    the audit trail (`request.state.request_id`) and to log records."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = (
            incoming if incoming and _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        )
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


# --- route templates -----------------------------------------------------------------------
def route_template(scope: Scope) -> str:
    """The matched route as a template, `/api/v1/patients/{patient_id}`: the request path with
    each path parameter's value put back as its name. Logs and the audit trail use it instead
    of the concrete path. Anything not safely reconstructed falls back to the route's own
    (router-relative) template, never to the raw path."""
    route = scope.get("route")
    if route is None:
        # a plain Starlette route (the docs): a literal path is its own template
        literal = scope.get("endpoint") is not None and not scope.get("path_params")
        return str(scope.get("path")) if literal else "<unmatched>"
    fallback = str(getattr(route, "path_format", None) or "<unknown>")
    pending = list(scope.get("path_params", {}).items())
    segments = str(scope.get("path", "")).split("/")
    for i, segment in enumerate(segments):
        if pending and segment == str(pending[0][1]):
            segments[i] = "{" + pending.pop(0)[0] + "}"
    if pending:
        return fallback
    template = "/".join(segments)
    return template if template.endswith(fallback) else fallback


# --- access log ----------------------------------------------------------------------------
class AccessLogMiddleware:
    """One line per request: method, route template (never the concrete path or query, which
    can carry identifiers), status, duration. Replaces uvicorn's access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_capturing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_capturing)
        finally:
            access_log.info(
                "%s %s %d %.1fms",
                scope.get("method", "-"),
                route_template(scope),
                status,
                (time.perf_counter() - started) * 1000,
            )


# --- security headers ----------------------------------------------------------------------
_DOCS_PATHS = ("/docs", "/redoc")
_API_CSP = "default-src 'none'; frame-ancestors 'none'"
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(_DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Content-Security-Policy", _DOCS_CSP if docs else _API_CSP)
                headers.setdefault("Cache-Control", "no-store")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- request body limit --------------------------------------------------------------------
class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit. An HTTPException, so that
    FastAPI re-raises it while reading a route's body (anything else it answers with 400)."""

    code = "content-too-large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body exceeds {max_bytes} bytes.")


def _too_large_response(scope: Scope, exc: BodyTooLarge) -> Response:
    return problem_response(Request(scope), 413, BodyTooLarge.code, str(exc.detail))


async def on_body_too_large(request: Request, exc: Exception) -> Response:
    """The exception handler: the same answer as for a declared Content-Length."""
    assert isinstance(exc, BodyTooLarge)
    return _too_large_response(request.scope, exc)


class BodySizeLimitMiddleware:
    """Refuses bodies above `max_bytes` with 413 problem+json: at once when Content-Length says
    so, otherwise as soon as the streamed body passes the limit, whoever reads it (a route, or
    a middleware outside the routes' error handlers)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large_response(scope, BodyTooLarge(self.max_bytes))(scope, receive, send)
            return
        received = 0
        started = False

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_limited, send_noting_start)
        except BodyTooLarge as exc:
            if started:
                raise
            await _too_large_response(scope, exc)(scope, receive, send)


class NulInUrlMiddleware:
    """A path or query parameter holding U+0000 (`%00`) is refused with a 422 naming it: the
    database cannot store or compare such text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            field = None
            if NUL in scope["path"]:
                field = "path"
            elif b"%00" in query or b"\x00" in query:
                pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8")
                field = next((f"query.{k}" for k, v in pairs if NUL in k or NUL in v), None)
            if field is not None:
                issue = FieldIssue(field, NUL_MESSAGE)
                detail = f"Invalid input: {field}."
                response = problem_response(
                    Request(scope), 422, "validation-error", detail, [issue]
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --- rate limiting -------------------------------------------------------------------------
class TokenBucketLimiter:
    """In-process token buckets, one per key (a credential id or a client address).

    Each process keeps its own buckets: with N worker processes a client can get up to N
    times the configured rate. A shared store (e.g. Redis) would be needed for a global limit.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> int | None:
        """Spend a token: None when allowed, else the seconds to wait for the next one."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return None if allowed else max(1, math.ceil((1.0 - tokens) / self.rate))


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.per_credential = TokenBucketLimiter(
            settings.rate_limit_per_minute, settings.rate_limit_burst
        )
        self.auth_failures = TokenBucketLimiter(
            settings.auth_failures_per_minute, settings.auth_failures_burst
        )
        # failed authentications refused with 429: one audit row per client address a minute
        self.audited_throttling = TokenBucketLimiter(per_minute=1, burst=1)


def rate_limits(app: Any) -> RateLimits | None:
    limits = getattr(app.state, "rate_limits", None)
    return limits if isinstance(limits, RateLimits) else None


# --- logging -------------------------------------------------------------------------------
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RedactingFormatter(logging.Formatter):
    """Tracebacks keep their frames and exception types but withhold exception messages:
    database errors quote parameter values, which can be patient data."""

    def formatException(self, ei: Any) -> str:
        exc = ei[1]
        parts: list[str] = []
        seen: set[int] = set()
        while isinstance(exc, BaseException) and id(exc) not in seen:
            seen.add(id(exc))
            frames = "".join(traceback.format_tb(exc.__traceback__))
            name = f"{type(exc).__module__}.{type(exc).__qualname__}"
            parts.append(f"Traceback (most recent call last):\n{frames}{name}: (message withheld)")
            exc = exc.__cause__ or exc.__context__
        return "\nCaused by / during handling of:\n".join(reversed(parts))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(settings: Settings) -> None:
    """Idempotent. Our loggers log no identifiers, names, free text or bodies; uvicorn's
    access log (which prints query strings) is silenced in favour of AccessLogMiddleware."""
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # their DEBUG/INFO lines quote SQL parameters or URLs: never below WARNING
    for chatty in ("aiosqlite", "asyncpg", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if not settings.database_echo:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    formatter = RedactingFormatter(LOG_FORMAT)
    root = logging.getLogger()
    if settings.environment != "test":
        logging.getLogger("vertebro").setLevel(logging.INFO)
        if not any(isinstance(h, _StderrHandler) for h in root.handlers):
            root.addHandler(_StderrHandler(sys.stderr))
    for name in ("", "uvicorn", "uvicorn.error"):
        for handler in logging.getLogger(name).handlers:
            if not isinstance(handler.formatter, RedactingFormatter) and not _is_pytest(handler):
                handler.setFormatter(formatter)
            if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                handler.addFilter(RequestIdFilter())


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging adds (recognised so it is added once)."""


def _is_pytest(handler: logging.Handler) -> bool:
    return type(handler).__module__.startswith("_pytest")


# --- wiring --------------------------------------------------------------------------------
def install_middleware(app: FastAPI, settings: Settings) -> None:
    app.state.rate_limits = RateLimits(settings)
    app.add_exception_handler(BodyTooLarge, on_body_too_large)
    # added innermost first
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(NulInUrlMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "X-API-Key",
                "Content-Type",
                "If-Match",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "Location", "Retry-After", REQUEST_ID_HEADER],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.environment == "production")
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
