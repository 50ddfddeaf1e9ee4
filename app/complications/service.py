import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import fetch_page
from app.common.updates import check_version, merge_update
from app.complications.schemas import ComplicationCreate, ComplicationFields, ComplicationUpdate
from app.errors import NotFound, RuleViolation
from app.models import Complication, LevelTreated, Procedure


async def _check_links(
    session: AsyncSession, procedure: Procedure, level_id: uuid.UUID | None, onset: datetime | None
) -> None:
    if level_id is not None:
        owner = await session.scalar(
            select(LevelTreated.procedure_id).where(LevelTreated.id == level_id)
        )
        if owner != procedure.id:
            raise RuleViolation(
                "level_id",
                "This level was not treated in this procedure.",
                "level-not-in-procedure",
            )
    if onset is not None and onset < procedure.performed_at:
        raise RuleViolation("onset_at", "A complication cannot start before its procedure.")


async def create_complication(session: AsyncSession, data: ComplicationCreate) -> Complication:
    procedure = await session.get(Procedure, data.procedure_id)
    if procedure is None:
        raise RuleViolation(
            "procedure_id", f"Procedure {data.procedure_id} does not exist.", "unknown-reference"
        )
    await _check_links(session, procedure, data.level_id, data.onset_at)
    complication = Complication(**data.model_dump())
    session.add(complication)
    await session.flush()
    return complication


async def get_complication(session: AsyncSession, complication_id: uuid.UUID) -> Complication:
    complication = await session.get(Complication, complication_id)
    if complication is None:
        raise NotFound("Complication", complication_id)
    return complication


async def update_complication(
    session: AsyncSession,
    complication_id: uuid.UUID,
    patch: ComplicationUpdate,
    expected_version: int | None,
) -> Complication:
    complication = await get_complication(session, complication_id)
    check_version(complication.version, expected_version, "Complication")
    current = {f: getattr(complication, f) for f in ComplicationFields.model_fields}
    merged = merge_update(ComplicationFields, current, patch)
    procedure = await session.get(Procedure, complication.procedure_id)
    assert procedure is not None
    await _check_links(session, procedure, merged.level_id, merged.onset_at)
    for name, value in merged.model_dump().items():
        setattr(complication, name, value)
    await session.flush()
    return complication


async def list_complications(
    session: AsyncSession,
    *,
    procedure_id: uuid.UUID | None,
    patient_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Complication], str | None]:
    stmt = select(Complication)
    if procedure_id:
        stmt = stmt.where(Complication.procedure_id == procedure_id)
    if patient_id:
        stmt = stmt.where(
            Complication.procedure_id.in_(
                select(Procedure.id).where(Procedure.patient_id == patient_id)
            )
        )
    return await fetch_page(session, stmt, Complication.id, cursor, limit)
