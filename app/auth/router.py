"""API keys: admin only."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth import service
from app.auth.dependencies import CurrentPrincipal, require
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.auth.scopes import ADMIN
from app.common.http import Cursor, Limit
from app.common.pagination import Page
from app.db import SessionDep
from app.errors import problem_responses

router = APIRouter(
    prefix="/api-keys",
    tags=["access"],
    dependencies=[require(ADMIN)],
    responses=problem_responses(401, 403, 429),
)


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key (the key is in this response only)",
    responses=problem_responses(422),
)
async def create_key(
    body: ApiKeyCreate, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> ApiKeyCreated:
    row, key = await service.create_key(
        session,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        created_by=principal.label,
    )
    response.headers["Location"] = f"/api/v1/api-keys/{row.id}"
    return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(exclude={"label"}), key=key)


@router.get("", response_model=Page[ApiKeyRead], summary="List API keys (never their secrets)")
async def list_keys(
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys.")] = False,
) -> Page[ApiKeyRead]:
    rows, next_cursor = await service.list_keys(
        session, include_revoked=include_revoked, cursor=cursor, limit=limit
    )
    return Page(items=[ApiKeyRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{key_id}",
    response_model=ApiKeyRead,
    summary="Read an API key",
    responses=problem_responses(404),
)
async def read_key(key_id: uuid.UUID, session: SessionDep) -> ApiKeyRead:
    return ApiKeyRead.model_validate(await service.get_key(session, key_id))


@router.post(
    "/{key_id}/revoke",
    response_model=ApiKeyRead,
    summary="Revoke an API key (at once, for good; idempotent)",
    responses=problem_responses(404),
)
async def revoke_key(key_id: uuid.UUID, session: SessionDep) -> ApiKeyRead:
    return ApiKeyRead.model_validate(await service.revoke_key(session, key_id))
