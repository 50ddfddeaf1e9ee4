"""Refused events, logged so the sender can find them (GET /events?status=rejected): one row
per refused event, in a transaction of its own so that it outlives the request's rollback.
Writing it never changes the answer: a failure is logged and the 4xx goes out as it was."""

import hashlib
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_sessionmaker
from app.errors import DomainError, problem
from app.ingestion.mappers import canonical_json
from app.ingestion.schemas import EventResult
from app.models import EventRejection
from app.models.base import new_id, utcnow

log = logging.getLogger("app.ingestion")
# refusals that are not about the event: retry it, or the request as a whole
NOT_REJECTIONS = frozenset({"retry", "busy", "unavailable", "batch-too-large"})


def _text(raw: dict[str, Any], name: str, size: int) -> str | None:
    value = raw.get(name)
    return value[:size] if isinstance(value, str) and value else None


def rejection_row(
    raw: object, problem_body: dict[str, Any], credential_id: uuid.UUID | None
) -> dict[str, Any]:
    """The row of one refused event: what could be read of it, its payload and the problem."""
    fields = raw if isinstance(raw, dict) else {}
    patient = fields.get("patient")
    patient = patient if isinstance(patient, dict) else {}
    payload = fields if isinstance(raw, dict) else {"value": raw}
    return {
        "id": new_id(),
        "source": _text(fields, "source", 120),
        "event_id": _text(fields, "event_id", 200),
        "type": _text(fields, "type", 40),
        "patient_system": _text(patient, "system", 200),
        "patient_value": _text(patient, "value", 200),
        "payload": payload,
        "payload_hash": hashlib.sha256(canonical_json(payload).encode()).hexdigest(),
        "problem": problem_body,
        "credential_id": credential_id,
    }


def single_rows(
    body: object, error: DomainError, credential_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    """A refused single event (a refused batch as a whole is not an event: no row)."""
    if isinstance(body, dict) and "events" in body:
        return []
    found = problem(error.status, error.code, error.detail, error.errors)
    return [rejection_row(body, found.model_dump(exclude_none=True), credential_id)]


def batch_rows(
    body: object, results: Sequence[EventResult], credential_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        return []
    return [
        rejection_row(events[r.index], r.problem.model_dump(exclude_none=True), credential_id)
        for r in results
        if r.status == "rejected" and r.problem and r.index is not None and r.index < len(events)
    ]


async def write_rejections(rows: list[dict[str, Any]]) -> None:
    """In a short transaction of its own; a failure is logged (without the rows), not raised."""
    if not rows:
        return
    try:
        async with get_sessionmaker()() as session:
            session.add_all(EventRejection(**row) for row in rows)
            await session.commit()
    except Exception:
        log.exception("could not log %d rejected events", len(rows))


async def purge_rejections(session: AsyncSession, retention_days: int) -> int:
    """Delete rejections older than the retention; returns how many."""
    cutoff = utcnow() - timedelta(days=retention_days)
    result = await session.execute(
        delete(EventRejection).where(EventRejection.received_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)
