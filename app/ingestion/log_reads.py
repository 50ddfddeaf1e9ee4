"""The event log as an integration team reads it: what became of each event it sent."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import fetch_page
from app.errors import NotFound
from app.ingestion.schemas import EventIds, EventStatus, LoggedEvent
from app.ingestion.service import stored_problem
from app.models import EventLog


async def list_logged(
    session: AsyncSession,
    *,
    source: str | None = None,
    event_id: str | None = None,
    type_: str | None = None,
    status: EventStatus | None = None,
    awaiting_procedure: bool | None = None,
    patient_id: uuid.UUID | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[Sequence[EventLog], str | None]:
    equal = {
        EventLog.source: source,
        EventLog.event_id: event_id,
        EventLog.type: type_,
        EventLog.status: status,
        EventLog.awaiting_procedure: awaiting_procedure,
        EventLog.patient_id: patient_id,
    }
    conditions: list[ColumnElement[bool]] = [c == v for c, v in equal.items() if v is not None]
    if received_from is not None:
        conditions.append(EventLog.received_at >= received_from)
    if received_to is not None:
        conditions.append(EventLog.received_at <= received_to)
    return await fetch_page(
        session, select(EventLog).where(*conditions), EventLog.id, cursor, limit
    )


async def get_logged(session: AsyncSession, log_id: uuid.UUID) -> EventLog:
    row = await session.get(EventLog, log_id)
    if row is None:
        raise NotFound("Logged event", log_id)
    return row


def logged(row: EventLog) -> LoggedEvent:
    return LoggedEvent(
        id=row.id,
        source=row.source,
        event_id=row.event_id,
        type=row.type,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        updated_at=row.updated_at,
        status=cast(EventStatus, row.status),  # validated: one of the four
        awaiting_procedure=row.awaiting_procedure,
        retracted_by=row.retracted_by,
        ids=EventIds.model_validate(row.result or {}),
        problem=stored_problem(row.problem),
        payload=row.payload,
    )
