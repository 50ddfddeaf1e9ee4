"""The guard: authentication, authorisation and the audit trail for a route.

`authenticator(*scopes)` is a `fastapi.Security` dependency: the caller must present a valid
credential (401 otherwise) holding every listed scope (403 otherwise); the scopes appear in
the route's OpenAPI security requirements, which the route-enumeration test reads. A credential
is an API key in `Authorization: Bearer <key>` or `X-API-Key: <key>` (Authorization wins when
both are sent), or an OAuth2 JWT in `Authorization: Bearer` when OAUTH2_* is configured.
Endpoints do not use it directly but through the aliases of `app.http.guards`.

Every guarded request is audited (app/audit): the guard depends on the request's audit
context, so a route cannot be guarded without being audited.
"""

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import AuditDep, new_context, record_refusal
from app.audit.recorder import THROTTLED_AUTHENTICATION, AuditContext
from app.auth import scopes as known
from app.auth.principal import Principal
from app.auth.service import CredentialRejected, authenticate_key
from app.auth.tokens import authenticate_jwt
from app.auth.visibility import reset_identifiers_visible, set_identifiers_visible
from app.common.ratelimit import rate_limits
from app.db import SessionDep, get_sessionmaker
from app.errors import DomainError, Forbidden, TooManyRequests, Unauthorized, problem_response

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


async def guard(
    request: Request,
    security_scopes: SecurityScopes,
    audit: AuditDep,
    session: SessionDep,
    authorization: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    api_key: Annotated[str | None, Security(api_key_header)],
) -> Principal:
    """The guard itself (routes take it through `authenticator`): authenticates once per
    request, then checks the scopes of the `Security` declaration it was reached by."""
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


def authenticator(*scopes: str) -> Any:
    """The guard as a `fastapi.Security` dependency: a valid credential (401 otherwise) holding
    every one of `scopes` (403 otherwise). Endpoints take it through an alias of
    `app.http.guards`, which also claims the Idempotency-Key once the guard has passed."""
    if not scopes:
        raise ValueError("a guard needs at least one scope")
    if bad := known.unknown(scopes):
        raise ValueError(f"unknown scopes: {bad}")
    return Security(guard, scopes=list(scopes))


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
