"""A patient's whole case in one read, and the case list."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.cases.schemas import (
    CaseProcedureRead,
    CaseRead,
    CaseSummary,
    EpisodeRead,
    TrajectoryPointRead,
)
from app.clinical.definitions import TIME_POINTS, Definitions, current
from app.clinical.enums import TargetPainSite
from app.clinical.episodes import Episode, ProcedureFact, build_episodes
from app.clinical.levels import LEVEL_POSITION
from app.clinical.pain import PainFact, trajectory
from app.common.pagination import fetch_page
from app.complications.schemas import ComplicationRead
from app.follow_up.schemas import FollowUpRead
from app.models import Complication, FollowUpEvent, LevelTreated, Patient, Procedure
from app.patients.schemas import PatientRead
from app.patients.service import get_patient
from app.procedures.service import to_read
from app.triggers import reads as triggers
from app.triggers import schemas as trigger_schemas


def procedure_facts(procedures: Sequence[Procedure]) -> list[ProcedureFact]:
    return [
        ProcedureFact(
            id=p.id,
            performed_at=p.performed_at,
            kind=p.kind,
            levels=frozenset(lv.level for lv in p.levels),
            series_id=p.series_id,
            target_site=p.target_pain_site,
        )
        for p in procedures
    ]


def pain_facts(events: Sequence[FollowUpEvent]) -> list[PainFact]:
    return [
        PainFact(e.occurred_at, e.score, e.site)
        for e in events
        if e.kind == "pain" and e.score is not None
    ]


def episode_read(episode: Episode, pains: Sequence[PainFact], defs: Definitions) -> EpisodeRead:
    points = trajectory(episode, pains, defs)
    return EpisodeRead(
        key=episode.key,
        procedure_ids=list(episode.procedure_ids),
        kind=episode.kind,
        levels=sorted(episode.levels, key=LEVEL_POSITION.__getitem__),
        first_at=episode.first_at,
        t0=episode.t0,
        ended_at=episode.ended_at,
        ended_by=episode.ended_by,
        target_pain_site=TargetPainSite(episode.target_site),
        baseline=points.baseline,
        baseline_at=points.baseline_at,
        baseline_missing=points.baseline_missing,
        trajectory=[
            TrajectoryPointRead(
                day=pt.day,
                window_days=TIME_POINTS[pt.day],
                score=pt.score,
                occurred_at=pt.occurred_at,
                change=pt.change,
                improved=pt.improved,
            )
            for pt in points.points
        ],
    )


async def get_case(session: AsyncSession, patient_id: uuid.UUID) -> CaseRead:
    patient = await get_patient(session, patient_id)
    procedures = (
        await session.scalars(
            select(Procedure)
            .where(Procedure.patient_id == patient_id)
            .options(selectinload(Procedure.levels), selectinload(Procedure.series))
            .order_by(Procedure.performed_at, Procedure.id)
        )
    ).all()
    complications = (
        await session.scalars(
            select(Complication)
            .join(Procedure, Procedure.id == Complication.procedure_id)
            .where(Procedure.patient_id == patient_id)
            .order_by(Complication.onset_at, Complication.id)
        )
    ).all()
    events = (
        await session.scalars(
            select(FollowUpEvent)
            .where(FollowUpEvent.patient_id == patient_id)
            .order_by(FollowUpEvent.occurred_at, FollowUpEvent.id)
        )
    ).all()
    defs = current()
    pains = pain_facts(events)
    episodes = {
        e.key: episode_read(e, pains, defs) for e in build_episodes(procedure_facts(procedures))
    }
    episode_of = {pid: ep for ep in episodes.values() for pid in ep.procedure_ids}
    return CaseRead(
        patient=PatientRead.model_validate(patient),
        procedures=[
            CaseProcedureRead(
                **to_read(p).model_dump(),
                complications=[
                    ComplicationRead.model_validate(c)
                    for c in complications
                    if c.procedure_id == p.id
                ],
                episode=episode_of[p.id],
            )
            for p in procedures
        ],
        episodes=list(episodes.values()),
        timeline=[FollowUpRead.model_validate(e) for e in events],
        imaging_triggers=[
            trigger_schemas.to_read(d) for d in await triggers.for_patient(session, patient_id)
        ],
        day14_checks=[
            trigger_schemas.Day14CheckRead.model_validate(c)
            for c in await triggers.checks_for_patient(session, patient_id)
        ],
    )


async def list_cases(
    session: AsyncSession,
    *,
    histology: str | None,
    level: str | None,
    kind: str | None,
    performed_from: datetime | None,
    performed_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[CaseSummary], str | None]:
    matching = select(Procedure.patient_id)
    if level:
        matching = matching.join(LevelTreated).where(LevelTreated.level == level.upper())
    if kind:
        matching = matching.where(Procedure.kind == kind)
    if performed_from:
        matching = matching.where(Procedure.performed_at >= performed_from)
    if performed_to:
        matching = matching.where(Procedure.performed_at <= performed_to)
    stmt = select(Patient)
    if histology:
        stmt = stmt.where(func.lower(Patient.histology) == histology.lower())
    if level or kind or performed_from or performed_to:
        stmt = stmt.where(Patient.id.in_(matching))
    patients, next_cursor = await fetch_page(session, stmt, Patient.id, cursor, limit)
    ids = [p.id for p in patients]
    totals = {
        row.patient_id: row
        for row in await session.execute(
            select(
                Procedure.patient_id,
                func.count(Procedure.id).label("n"),
                func.min(Procedure.performed_at).label("first"),
                func.max(Procedure.performed_at).label("last"),
            )
            .where(Procedure.patient_id.in_(ids))
            .group_by(Procedure.patient_id)
        )
    }
    levels: dict[uuid.UUID, list[str]] = {}
    for patient_id, name in await session.execute(
        select(Procedure.patient_id, LevelTreated.level)
        .join(LevelTreated)
        .where(Procedure.patient_id.in_(ids))
    ):
        levels.setdefault(patient_id, []).append(name)
    summaries = []
    for p in patients:
        row = totals.get(p.id)
        treated = levels.get(p.id, [])
        summaries.append(
            CaseSummary(
                patient_id=p.id,
                sex=p.sex,
                birth_date=p.birth_date,
                histology=p.histology,
                histology_group=p.histology_group,
                death_date=p.death_date,
                procedures=row.n if row else 0,
                levels=sorted(set(treated), key=LEVEL_POSITION.__getitem__),
                level_treatments=len(treated),
                first_procedure_at=row.first if row else None,
                last_procedure_at=row.last if row else None,
            )
        )
    return summaries, next_cursor
