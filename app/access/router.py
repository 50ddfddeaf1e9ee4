"""/api-keys and /audit: API keys and the audit trail, admin only.

Here rather than in app/auth and app/audit: the guard (app/http) builds on both, so their
endpoints sit above it, and the packages import one way (auth <- audit <- http <- access).
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.audit import service as audit_service
from app.audit.schemas import AuditEventRead
from app.auth import service as keys_service
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.common.http import Cursor, Limit
from app.common.pagination import Page
from app.common.schemas import UtcDatetime
from app.db import SessionDep
from app.errors import problem_responses
from app.http.guards import Admin

router = APIRouter(tags=["access"])


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key (the key is in this response only)",
    responses=problem_responses(422),
)
async def create_key(
    principal: Admin, body: ApiKeyCreate, session: SessionDep, response: Response
) -> ApiKeyCreated:
    row, key = await keys_service.create_key(
        session,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        created_by=principal.label,
    )
    response.headers["Location"] = f"/api/v1/api-keys/{row.id}"
    return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(exclude={"label"}), key=key)


@router.get(
    "/api-keys", response_model=Page[ApiKeyRead], summary="List API keys (never their secrets)"
)
async def list_keys(
    principal: Admin,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys.")] = False,
) -> Page[ApiKeyRead]:
    rows, next_cursor = await keys_service.list_keys(
        session, include_revoked=include_revoked, cursor=cursor, limit=limit
    )
    return Page(items=[ApiKeyRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/api-keys/{key_id}",
    response_model=ApiKeyRead,
    summary="Read an API key",
    responses=problem_responses(404),
)
async def read_key(principal: Admin, key_id: uuid.UUID, session: SessionDep) -> ApiKeyRead:
    return ApiKeyRead.model_validate(await keys_service.get_key(session, key_id))


@router.post(
    "/api-keys/{key_id}/revoke",
    response_model=ApiKeyRead,
    summary="Revoke an API key (at once, for good; idempotent)",
    responses=problem_responses(404),
)
async def revoke_key(principal: Admin, key_id: uuid.UUID, session: SessionDep) -> ApiKeyRead:
    return ApiKeyRead.model_validate(await keys_service.revoke_key(session, key_id))


@router.get(
    "/audit",
    response_model=Page[AuditEventRead],
    summary="Query the audit trail",
    responses=problem_responses(422),
)
async def list_audit_events(
    principal: Admin,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    patient_id: uuid.UUID | None = None,
    credential_id: uuid.UUID | None = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    occurred_from: Annotated[
        UtcDatetime | None, Query(alias="from", description="Inclusive.")
    ] = None,
    occurred_to: Annotated[UtcDatetime | None, Query(alias="to", description="Exclusive.")] = None,
) -> Page[AuditEventRead]:
    rows, next_cursor = await audit_service.list_events(
        session,
        patient_id=patient_id,
        credential_id=credential_id,
        request_id=request_id,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)
