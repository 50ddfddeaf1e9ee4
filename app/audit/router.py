"""The audit trail, read-only, for administrators."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEventRead
from app.auth.dependencies import require
from app.auth.scopes import ADMIN
from app.common.http import Cursor, Limit
from app.common.pagination import Page
from app.common.schemas import UtcDatetime
from app.db import SessionDep
from app.errors import problem_responses

router = APIRouter(
    prefix="/audit",
    tags=["access"],
    dependencies=[require(ADMIN)],
    responses=problem_responses(401, 403, 422, 429),
)


@router.get("", response_model=Page[AuditEventRead], summary="Query the audit trail")
async def list_audit_events(
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
    rows, next_cursor = await service.list_events(
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
