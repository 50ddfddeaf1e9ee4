"""ASGI middleware around the application: request ids, an access log without patient data,
security headers, CORS, a request body limit, and NUL refused in URLs.

Order, outermost first: request id -> access log -> security headers -> CORS -> NUL in URL ->
body limit.
"""

import logging
import re
import time
import uuid
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.common.nul import MESSAGE as NUL_MESSAGE
from app.common.nul import NUL
from app.common.routes import route_template
from app.config import Settings
from app.errors import BodyTooLarge, FieldIssue, problem_response
from app.logs import request_id_var
from app.observability.http import observe_request

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
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


# --- access log ----------------------------------------------------------------------------
class AccessLogMiddleware:
    """One line per request: method, route template (never the concrete path or query, which
    can carry identifiers), status, duration. Replaces uvicorn's access log. The same timing
    feeds the request metrics (app.observability.http)."""

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
            seconds = time.perf_counter() - started
            access_log.info(
                "%s %s %d %.1fms", scope.get("method", "-"), route_template(scope), status,
                seconds * 1000,
            )  # fmt: skip
            observe_request(scope, status, seconds)


# --- security headers ----------------------------------------------------------------------
# the docs pages (app.docs) set their own policy, which this one does not replace
_API_CSP = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Content-Security-Policy", _API_CSP)
                headers.setdefault("Cache-Control", "no-store")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- request body limit --------------------------------------------------------------------
def _too_large_response(scope: Scope, exc: BodyTooLarge) -> Response:
    return problem_response(Request(scope), 413, BodyTooLarge.code, str(exc.detail))


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


# --- wiring --------------------------------------------------------------------------------
def install_middleware(app: FastAPI, settings: Settings) -> None:
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
