"""Authentication, authorisation and the audit trail for routes: the interface other areas use.

    router = APIRouter(prefix="/stats", dependencies=[require("stats:read")])

    @router.get("/mine")
    async def mine(principal: CurrentPrincipal) -> ...: ...

`require(*scopes)` is a `fastapi.Security` dependency: the caller must present a valid
credential (401 otherwise) holding every listed scope (403 otherwise); the scopes appear in
the route's OpenAPI security requirements, which the route-enumeration test reads. A credential
is an API key in `Authorization: Bearer <key>` or `X-API-Key: <key>` (Authorization wins when
both are sent), or an OAuth2 JWT in `Authorization: Bearer` when OAUTH2_* is configured.

Every guarded request is audited (app/audit): the guard depends on the request's audit
context, so a route cannot be guarded without being audited.
"""

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import AuditDep, new_context, record_refusal
from app.audit.recorder import THROTTLED_AUTHENTICATION, AuditContext
from app.auth import scopes as known
from app.auth.principal import Principal
from app.auth.service import CredentialRejected, authenticate_key
from app.auth.tokens import authenticate_jwt
from app.auth.visibility import reset_identifiers_visible, set_identifiers_visible
from app.db import SessionDep, get_sessionmaker
from app.errors import (
    DomainError,
    Forbidden,
    TooManyRequests,
    Unauthorized,
    problem_response,
    problem_responses,
)
from app.middleware import rate_limits

api_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="An API key (`vtb_...`). `make run` prints a local one in development.",
    auto_error=False,
)
bearer = HTTPBearer(
    scheme_name="Bearer",
    description="An API key, or an OAuth2 access token (JWT) from the identity provider.",
    auto_error=False,
)


async def _authenticate(
    request: Request,
    session: SessionDep,
    audit: AuditContext,
    authorization: HTTPAuthorizationCredentials | None,
    api_key: str | None,
) -> Principal:
    presented = (authorization.credentials if authorization else None) or api_key
    try:
        if not presented:
            raise Unauthorized(
                "Authentication required: send an API key as `Authorization: Bearer <key>` "
                "or `X-API-Key: <key>`.",
                "unauthenticated",
            )
        if authorization is None or authorization.credentials.startswith("vtb_"):
            return await authenticate_key(session, presented)
        return await authenticate_jwt(presented)
    except Unauthorized as exc:
        if isinstance(exc, CredentialRejected):
            audit.rejected_credential_id = exc.credential_id
        limits = rate_limits(request.app)
        client = request.client.host if request.client else "unknown"
        if limits and (wait := limits.auth_failures.take(client)) is not None:
            raise TooManyRequests(wait, THROTTLED_AUTHENTICATION) from exc
        raise


async def _admit(
    request: Request,
    session: AsyncSession,
    audit: AuditContext,
    authorization: HTTPAuthorizationCredentials | None,
    api_key: str | None,
) -> Principal:
    """Authenticate, and spend a token of the credential's rate limit."""
    principal = await _authenticate(request, session, audit, authorization, api_key)
    audit.principal = principal
    limits = rate_limits(request.app)
    if limits and (wait := limits.per_credential.take(str(principal.id))) is not None:
        raise TooManyRequests(wait)
    return principal


async def _guard(
    request: Request,
    security_scopes: SecurityScopes,
    audit: AuditDep,
    session: SessionDep,
    authorization: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    api_key: Annotated[str | None, Security(api_key_header)],
) -> Principal:
    principal = audit.principal
    if principal is None:
        principal = await _admit(request, session, audit, authorization, api_key)
        token = set_identifiers_visible(principal.sees_identifiers)
        request.state.audit_cleanups.append(lambda: reset_identifiers_visible(token))
    required = list(security_scopes.scopes)
    audit.mark_scopes(required)
    missing = [s for s in required if s not in principal.scopes]
    if missing:
        raise Forbidden(
            f"This operation needs the scope(s): {', '.join(missing)}.",
            missing,
            "insufficient-scope",
        )
    return principal


def require(*scopes: str) -> Any:
    """A dependency demanding a valid credential with every one of `scopes`."""
    if not scopes:
        raise ValueError("require() needs at least one scope; use CurrentPrincipal for none")
    if bad := known.unknown(scopes):
        raise ValueError(f"unknown scopes: {bad}")
    return Security(_guard, scopes=list(scopes))


# The authenticated credential, for handlers (authenticates if no `require` did already).
CurrentPrincipal = Annotated[Principal, Security(_guard)]

ExceptionHandler = Callable[[Request, Any], Response | Awaitable[Response]]


def authenticated_first(handler: ExceptionHandler) -> ExceptionHandler:
    """Wraps the handler of an error FastAPI raises before a route's dependencies run (a body
    that is not JSON is refused while it is read): the credential is checked first (401 or 429
    as on any route), and the refusal is audited. The route's scopes are not checked: its guard
    is one of the dependencies that did not run, and the refusal shows nothing."""

    async def answer(request: Request, exc: Exception) -> Response:
        response = handler(request, exc)
        return await response if inspect.isawaitable(response) else response

    async def handle(request: Request, exc: Exception) -> Response:
        if "route" not in request.scope or hasattr(request.state, "audit"):
            return await answer(request, exc)  # no route, or its dependencies ran
        audit = new_context(request)
        try:
            async with get_sessionmaker()() as session:
                authorization = await bearer(request)
                await _admit(request, session, audit, authorization, await api_key_header(request))
        except DomainError as refused:
            await record_refusal(request, audit, refused)
            return problem_response(
                request,
                refused.status,
                refused.code,
                refused.detail,
                refused.errors,
                headers=refused.headers or None,
            )
        await record_refusal(request, audit, exc)
        return await answer(request, exc)

    return handle


AUTH_RESPONSES = problem_responses(401, 403, 429)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def include_guarded(
    parent: APIRouter,
    router: APIRouter,
    *,
    read: str,
    write: str,
    then: Sequence[Any] = (),
    **include: Any,
) -> None:
    """Include `router`, guarding its GET routes with `read` and every other route with
    `write` (route order is kept). Routes that take `If-Match` also document 412 and 428.
    `then`: dependencies that must run only once the caller is authorised for the route (a
    router's own dependencies run after the guard too, but dependencies given to an enclosing
    router run before it)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"include_guarded cannot guard {route!r}")
        scope = read if (route.methods or set()) <= _SAFE_METHODS else write
        conditional = any(p.alias.lower() == "if-match" for p in route.dependant.header_params)
        single = APIRouter()
        single.routes.append(route)
        responses = {**AUTH_RESPONSES, **(problem_responses(412, 428) if conditional else {})}
        parent.include_router(
            single, dependencies=[require(scope), *then], responses=responses, **include
        )
