"""Who is signed in to a page: the session cookie, checked against the key row, audited.

`page_access(*scopes)` is the pages' guard (None without a valid session: the page then
redirects to the sign-in page): the request is audited like the API's (the audit
context of app/audit), the principal is rebuilt from the key's row (revoked or expired keys end
their sessions), and a page the principal's scopes do not cover is a 403 page.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import AuditDep
from app.auth import keys
from app.auth.principal import Principal
from app.auth.scopes import ALL_SCOPES
from app.auth.visibility import reset_identifiers_visible, set_identifiers_visible
from app.db import SessionDep
from app.errors import Forbidden
from app.models import ApiKey
from app.models.base import utcnow
from app.web.sessions import COOKIE, WebSession, is_live, read_session


@dataclass(frozen=True)
class Visitor:
    principal: Principal
    session: WebSession


async def principal_of_key(session: AsyncSession, key_id: uuid.UUID) -> Principal | None:
    """The principal of a key still valid, else None."""
    row = await session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    return Principal.build(
        id=row.id,
        kind="api-key",
        name=row.name,
        label=keys.display(row.prefix),
        scopes=[s for s in row.scopes if s in ALL_SCOPES],
    )


def page_access(*scopes: str) -> Any:
    """The guard of a page: a signed-in visitor holding `scopes` (SignInNeeded, Forbidden)."""

    async def guard(
        request: Request, response: Response, audit: AuditDep, session: SessionDep
    ) -> Visitor | None:
        web = read_session(request.cookies.get(COOKIE))
        if web is not None and not await is_live(session, web):
            web = None
        principal = await principal_of_key(session, web.key_id) if web else None
        audit.mark_scopes(list(scopes))
        if web is None or principal is None:
            response.status_code = 303  # the page redirects to sign in: audited as such
            return None
        audit.principal = principal
        request.state.web_principal = principal  # for an error page's links (app.web.errors)
        token = set_identifiers_visible(principal.sees_identifiers)
        request.state.audit_cleanups.append(lambda: reset_identifiers_visible(token))
        missing = [s for s in scopes if s not in principal.scopes]
        if missing:
            raise Forbidden(
                f"This page needs the scope(s): {', '.join(missing)}.",
                missing,
                "insufficient-scope",
            )
        return Visitor(principal, web)

    return Depends(guard)
