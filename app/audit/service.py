"""Querying the audit trail. There is deliberately no update or delete."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import fetch_page
from app.models import AuditEvent


async def list_events(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID | None,
    credential_id: uuid.UUID | None,
    request_id: str | None,
    occurred_from: datetime | None,
    occurred_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[AuditEvent], str | None]:
    """Oldest first (keys are time-ordered UUIDv7)."""
    stmt = select(AuditEvent)
    if patient_id is not None:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if credential_id is not None:
        stmt = stmt.where(AuditEvent.credential_id == credential_id)
    if request_id is not None:
        stmt = stmt.where(AuditEvent.request_id == request_id)
    if occurred_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= occurred_from)
    if occurred_to is not None:
        stmt = stmt.where(AuditEvent.occurred_at < occurred_to)
    return await fetch_page(session, stmt, AuditEvent.id, cursor, limit)
