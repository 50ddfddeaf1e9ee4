"""A staged series named by a sending system (events): found by its reference, or made on the
first stage that arrives, in whichever order the stages come."""

import uuid
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.sql import dialect_of
from app.errors import RuleViolation
from app.models import ProcedureSeries
from app.models.base import new_id, utcnow

_series = cast(Table, ProcedureSeries.__table__)


async def series_of_sender(
    session: AsyncSession,
    patient_id: uuid.UUID,
    source: str,
    ref: str,
    planned_sessions: int,
    label: str | None,
    field: str = "series",
) -> ProcedureSeries:
    """The series `ref` of `source`: made by the first stage that names it (two stages racing
    make one: ON CONFLICT DO NOTHING on the reference), then the same for every stage, which
    must agree on the patient and the number of sessions planned."""
    insert = pg_insert if dialect_of(session).postgres else sqlite_insert
    now = utcnow()
    await session.execute(
        insert(_series)
        .values(
            id=new_id(),
            patient_id=patient_id,
            planned_sessions=planned_sessions,
            label=label,
            external_source=source,
            external_ref=ref,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )
    series = await session.scalar(
        select(ProcedureSeries)
        .where(ProcedureSeries.external_source == source, ProcedureSeries.external_ref == ref)
        .execution_options(populate_existing=True)
    )
    assert series is not None  # inserted, or there before
    if series.patient_id != patient_id:
        raise RuleViolation(
            f"{field}.series_ref",
            f"Series {ref!r} of {source} is another patient's.",
            "series-ref-taken",
        )
    if series.planned_sessions != planned_sessions:
        raise RuleViolation(
            f"{field}.planned_sessions",
            f"Series {ref!r} was planned in {series.planned_sessions} sessions, not "
            f"{planned_sessions}.",
            "series-plan-differs",
        )
    return series
