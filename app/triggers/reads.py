"""Reading imaging triggers: the filtered list, and what a reader needs besides the row
(the episode's procedures and levels, the evidence, the history)."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clinical.levels import LEVEL_POSITION
from app.common.pagination import fetch_page
from app.models import (
    Day14Check,
    ImagingTrigger,
    LevelTreated,
    Procedure,
    TriggerEvidence,
    TriggerTransition,
)


async def list_triggers(
    session: AsyncSession,
    *,
    status: str | None = None,
    rule: str | None = None,
    patient_id: uuid.UUID | None = None,
    procedure_id: uuid.UUID | None = None,
    due_from: datetime | None = None,
    due_to: datetime | None = None,
    as_of: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[Sequence[ImagingTrigger], str | None]:
    stmt = select(ImagingTrigger)
    conditions: list[ColumnElement[bool]] = []
    if status:
        conditions.append(ImagingTrigger.status == status)
    if rule:
        conditions.append(ImagingTrigger.rule == rule)
    if patient_id:
        conditions.append(ImagingTrigger.patient_id == patient_id)
    if procedure_id:
        episode = select(func.coalesce(Procedure.series_id, Procedure.id)).where(
            Procedure.id == procedure_id
        )
        conditions.append(ImagingTrigger.episode_key.in_(episode.scalar_subquery()))
    if due_from:
        conditions.append(ImagingTrigger.due_at >= due_from)
    if due_to:
        conditions.append(ImagingTrigger.due_at <= due_to)
    if as_of:
        # due by then, and not yet closed then
        conditions.append(ImagingTrigger.due_at <= as_of)
        conditions.append(or_(ImagingTrigger.closed_at.is_(None), ImagingTrigger.closed_at > as_of))
    if conditions:
        stmt = stmt.where(and_(*conditions))
    return await fetch_page(session, stmt, ImagingTrigger.id, cursor, limit)


@dataclass(frozen=True)
class TriggerDetails:
    trigger: ImagingTrigger
    procedure_ids: list[uuid.UUID]
    levels: list[str]
    evidence: list[TriggerEvidence]
    history: list[TriggerTransition]


async def details(
    session: AsyncSession, triggers: Iterable[ImagingTrigger]
) -> list[TriggerDetails]:
    """What a reader needs besides the row: the episode's procedures and levels, evidence and
    history, loaded for a whole page at once."""
    triggers = list(triggers)
    if not triggers:
        return []
    ids = [t.id for t in triggers]
    keys = {t.episode_key for t in triggers}
    procedures: dict[uuid.UUID, list[tuple[datetime, uuid.UUID]]] = {}
    levels: dict[uuid.UUID, set[str]] = {}
    rows = await session.execute(
        select(
            func.coalesce(Procedure.series_id, Procedure.id),
            Procedure.id,
            Procedure.performed_at,
            LevelTreated.level,
        )
        .outerjoin(LevelTreated, LevelTreated.procedure_id == Procedure.id)
        .where(or_(Procedure.id.in_(keys), Procedure.series_id.in_(keys)))
    )
    for key, procedure_id, at, level in rows:
        if (at, procedure_id) not in procedures.setdefault(key, []):
            procedures[key].append((at, procedure_id))
        if level:
            levels.setdefault(key, set()).add(level)
    evidence: dict[uuid.UUID, list[TriggerEvidence]] = {}
    for e in await session.scalars(
        select(TriggerEvidence)
        .where(TriggerEvidence.trigger_id.in_(ids))
        .order_by(TriggerEvidence.occurred_at, TriggerEvidence.role)
    ):
        evidence.setdefault(e.trigger_id, []).append(e)
    history: dict[uuid.UUID, list[TriggerTransition]] = {}
    for h in await session.scalars(
        select(TriggerTransition)
        .where(TriggerTransition.trigger_id.in_(ids))
        .order_by(TriggerTransition.at, TriggerTransition.id)
    ):
        history.setdefault(h.trigger_id, []).append(h)
    return [
        TriggerDetails(
            t,
            [pid for _, pid in sorted(procedures.get(t.episode_key, []))],
            sorted(levels.get(t.episode_key, set()), key=lambda lv: LEVEL_POSITION.get(lv, 99)),
            evidence.get(t.id, []),
            history.get(t.id, []),
        )
        for t in triggers
    ]


async def for_patient(session: AsyncSession, patient_id: uuid.UUID) -> list[TriggerDetails]:
    triggers = (
        await session.scalars(
            select(ImagingTrigger)
            .where(ImagingTrigger.patient_id == patient_id)
            .order_by(ImagingTrigger.due_at, ImagingTrigger.id)
        )
    ).all()
    return await details(session, triggers)


async def checks_for_patient(session: AsyncSession, patient_id: uuid.UUID) -> list[Day14Check]:
    return list(
        (
            await session.scalars(
                select(Day14Check)
                .where(Day14Check.patient_id == patient_id)
                .order_by(Day14Check.due_at)
            )
        ).all()
    )
