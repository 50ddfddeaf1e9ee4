"""The event log as an integration team reads it: what became of each event it sent, accepted
(event_log) or rejected (event_rejections), in one shape."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import fetch_page
from app.errors import NotFound
from app.ingestion.baselines import warn_missing_baselines
from app.ingestion.schemas import EventIds, EventStatus, LoggedEvent, LoggedStatus
from app.ingestion.service import logged_warnings, stored_problem
from app.models import EventLog, EventRejection, PatientIdentifier

# a cursor into the rejections (accepted events are listed first, then the rejected ones)
REJECTED_CURSOR = "r."


@dataclass(frozen=True)
class LogFilter:
    source: str | None = None
    event_id: str | None = None
    type_: str | None = None
    status: LoggedStatus | None = None
    awaiting_procedure: bool | None = None
    patient_id: uuid.UUID | None = None
    identifier: str | None = None  # an identifier value of the patient (an MRN)
    received_from: datetime | None = None
    received_to: datetime | None = None


async def _patients_named(session: AsyncSession, value: str) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(PatientIdentifier.patient_id).where(PatientIdentifier.value == value)
    )
    return list(set(rows))


async def _accepted(
    session: AsyncSession, f: LogFilter, cursor: str | None, limit: int
) -> tuple[Sequence[EventLog], str | None]:
    equal: dict[Any, Any] = {
        EventLog.source: f.source,
        EventLog.event_id: f.event_id,
        EventLog.type: f.type_,
        EventLog.status: f.status,
        EventLog.awaiting_procedure: f.awaiting_procedure,
        EventLog.patient_id: f.patient_id,
    }
    conditions: list[ColumnElement[bool]] = [c == v for c, v in equal.items() if v is not None]
    if f.identifier is not None:
        conditions.append(EventLog.patient_id.in_(await _patients_named(session, f.identifier)))
    if f.received_from is not None:
        conditions.append(EventLog.received_at >= f.received_from)
    if f.received_to is not None:
        conditions.append(EventLog.received_at <= f.received_to)
    return await fetch_page(
        session, select(EventLog).where(*conditions), EventLog.id, cursor, limit
    )


async def _rejected(
    session: AsyncSession, f: LogFilter, cursor: str | None, limit: int
) -> tuple[Sequence[EventRejection], str | None]:
    equal = {
        EventRejection.source: f.source,
        EventRejection.event_id: f.event_id,
        EventRejection.type: f.type_,
        EventRejection.patient_value: f.identifier,
    }
    conditions: list[ColumnElement[bool]] = [c == v for c, v in equal.items() if v is not None]
    if f.received_from is not None:
        conditions.append(EventRejection.received_at >= f.received_from)
    if f.received_to is not None:
        conditions.append(EventRejection.received_at <= f.received_to)
    stmt = select(EventRejection).where(*conditions)
    return await fetch_page(session, stmt, EventRejection.id, cursor, limit)


async def list_logged(
    session: AsyncSession, f: LogFilter, cursor: str | None = None, limit: int = 50
) -> tuple[list[LoggedEvent], str | None]:
    """Accepted events first (unless status=rejected), then rejected ones (unless another
    status, a patient id or awaiting_procedure is asked, which rejections do not have)."""
    items: list[LoggedEvent] = []
    with_rejected = f.status in (None, "rejected") and f.patient_id is None
    with_rejected = with_rejected and f.awaiting_procedure is None
    if f.status != "rejected" and not (cursor or "").startswith(REJECTED_CURSOR):
        rows, next_cursor = await _accepted(session, f, cursor, limit)
        items = [logged(r) for r in rows]
        await warn_missing_baselines(session, items)
        if next_cursor is not None or not with_rejected:
            return items, next_cursor
        cursor, limit = None, limit - len(items)
        if limit == 0:
            return items, REJECTED_CURSOR
    if not with_rejected:
        return items, None
    inner = (cursor or "").removeprefix(REJECTED_CURSOR) or None
    rejected, next_cursor = await _rejected(session, f, inner, limit)
    items += [rejection(r) for r in rejected]
    return items, (REJECTED_CURSOR + next_cursor) if next_cursor else None


async def get_logged(session: AsyncSession, log_id: uuid.UUID) -> LoggedEvent:
    row = await session.get(EventLog, log_id)
    if row is not None:
        found = logged(row)
        await warn_missing_baselines(session, [found])
        return found
    refused = await session.get(EventRejection, log_id)
    if refused is None:
        raise NotFound("Logged event", log_id)
    return rejection(refused)


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
        warnings=logged_warnings(row),
        payload=row.payload,
    )


def rejection(row: EventRejection) -> LoggedEvent:
    return LoggedEvent(
        id=row.id,
        source=row.source,
        event_id=row.event_id,
        type=row.type,
        received_at=row.received_at,
        updated_at=row.received_at,
        status="rejected",
        awaiting_procedure=False,
        ids=EventIds(),
        problem=stored_problem(row.problem),
        payload=row.payload,
    )
