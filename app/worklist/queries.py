"""The worklist's reads: Core selects of plain values, so the audit trail notes only the
patients whose rows a page shows (the service loads those as ORM objects for their labels)."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.clinical.definitions import TIME_POINTS
from app.clinical.enums import AUGMENTATION_KINDS, FollowUpKind, TriggerStatus
from app.clinical.episodes import ProcedureFact
from app.clinical.levels import LEVEL_POSITION
from app.clinical.pain import PainFact
from app.models import (
    FollowUpEvent,
    ImagingTrigger,
    LevelTreated,
    Patient,
    Procedure,
    TriggerEvidence,
)
from app.worklist.text import EvidenceFact

# the longest a time point's window stays open after t0, and the widest window
HORIZON = timedelta(days=max(day + w for day, w in TIME_POINTS.items()))
WIDEST = timedelta(days=2 * max(TIME_POINTS.values()) + 1)


@dataclass
class Session_:
    """One session of an episode, with what the rows show."""

    fact: ProcedureFact
    operator: str | None


@dataclass
class PatientHistory:
    died_on: date | None
    sessions: list[Session_] = field(default_factory=list)
    scores: list[PainFact] = field(default_factory=list)


def sort_levels(levels: Iterable[str]) -> list[str]:
    return sorted(set(levels), key=lambda lv: LEVEL_POSITION.get(lv, 99))


async def _sessions(
    session: AsyncSession, where: ColumnElement[bool]
) -> dict[uuid.UUID, list[Session_]]:
    """Procedures with their levels, per patient, in the order performed."""
    rows = await session.execute(
        select(
            Procedure.patient_id,
            Procedure.id,
            Procedure.performed_at,
            Procedure.kind,
            Procedure.series_id,
            Procedure.target_pain_site,
            Procedure.operator,
            LevelTreated.level,
        )
        .outerjoin(LevelTreated, LevelTreated.procedure_id == Procedure.id)
        .where(where)
        .order_by(Procedure.performed_at, Procedure.id)
    )
    raw: dict[uuid.UUID, tuple[uuid.UUID, datetime, str, uuid.UUID | None, str, str | None]] = {}
    levels: dict[uuid.UUID, set[str]] = {}
    owner: dict[uuid.UUID, uuid.UUID] = {}
    for patient_id, pid, at, kind, series_id, site, operator, level in rows:
        raw.setdefault(pid, (pid, at, kind, series_id, site, operator))
        owner[pid] = patient_id
        if level:
            levels.setdefault(pid, set()).add(level)
    result: dict[uuid.UUID, list[Session_]] = {}
    for pid, (_, at, kind, series_id, site, operator) in raw.items():
        fact = ProcedureFact(
            id=pid,
            performed_at=at,
            kind=kind,
            levels=frozenset(levels.get(pid, set())),
            series_id=series_id,
            target_site=site,
        )
        result.setdefault(owner[pid], []).append(Session_(fact, operator))
    return result


async def followed_histories(
    session: AsyncSession, as_of: datetime, died_by: date
) -> dict[uuid.UUID, PatientHistory]:
    """The histories of patients with a vertebroplasty/kyphoplasty recent enough for a time
    point's window to be open at `as_of`, alive on `died_by`: all their procedures (a later one
    ends an episode), and their pain scores recent enough to lie in an open window."""
    candidates = (
        select(Procedure.patient_id)
        .join(Patient, Patient.id == Procedure.patient_id)
        .where(
            Procedure.kind.in_([k.value for k in AUGMENTATION_KINDS]),
            Procedure.performed_at >= as_of - HORIZON,
            Procedure.performed_at < as_of,
            or_(Patient.death_date.is_(None), Patient.death_date > died_by),
        )
        .distinct()
    )
    died = {
        pid: d
        for pid, d in await session.execute(
            select(Patient.id, Patient.death_date).where(Patient.id.in_(candidates))
        )
    }
    if not died:
        return {}
    histories = {pid: PatientHistory(d) for pid, d in died.items()}
    for patient_id, sessions in (
        await _sessions(session, Procedure.patient_id.in_(candidates))
    ).items():
        histories[patient_id].sessions = sessions
    for patient_id, eid, at, score, site in await session.execute(
        select(
            FollowUpEvent.patient_id,
            FollowUpEvent.id,
            FollowUpEvent.occurred_at,
            FollowUpEvent.score,
            FollowUpEvent.site,
        ).where(
            FollowUpEvent.patient_id.in_(candidates),
            FollowUpEvent.kind == FollowUpKind.pain.value,
            FollowUpEvent.score.is_not(None),
            FollowUpEvent.occurred_at >= as_of - WIDEST,
            FollowUpEvent.occurred_at <= as_of,
        )
    ):
        histories[patient_id].scores.append(PainFact(at, float(score or 0), site, eid))
    return histories


@dataclass(frozen=True)
class TriggerFacts:
    id: uuid.UUID
    patient_id: uuid.UUID
    episode_key: uuid.UUID
    procedure_id: uuid.UUID
    rule: str
    status: str
    t0: datetime
    due_at: datetime
    version: int
    baseline: float | None


LIVE = [
    s.value for s in (TriggerStatus.open, TriggerStatus.acknowledged, TriggerStatus.imaging_ordered)
]


async def live_triggers(
    session: AsyncSession, as_of: datetime, died_by: date
) -> list[TriggerFacts]:
    """Triggers not closed, due by `as_of`, of patients alive on `died_by`."""
    t = ImagingTrigger
    rows = await session.execute(
        select(
            t.id,
            t.patient_id,
            t.episode_key,
            t.procedure_id,
            t.rule,
            t.status,
            t.t0,
            t.due_at,
            t.version,
            t.baseline,
        )
        .join(Patient, Patient.id == t.patient_id)
        .where(
            t.status.in_(LIVE),
            t.due_at <= as_of,
            or_(Patient.death_date.is_(None), Patient.death_date > died_by),
        )
    )
    return [TriggerFacts(*tuple(row)) for row in rows]


async def episode_sessions(
    session: AsyncSession, keys: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Session_]]:
    """The sessions of these episodes, by episode key."""
    keys = set(keys)
    if not keys:
        return {}
    by_patient = await _sessions(
        session, or_(Procedure.id.in_(keys), Procedure.series_id.in_(keys))
    )
    found: dict[uuid.UUID, list[Session_]] = {}
    for sessions in by_patient.values():
        for s in sessions:
            found.setdefault(s.fact.episode_key, []).append(s)
    return found


async def evidence(
    session: AsyncSession, trigger_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[EvidenceFact]]:
    """Each trigger's evidence with the site of its follow-up event."""
    found: dict[uuid.UUID, list[EvidenceFact]] = {}
    if not trigger_ids:
        return found
    rows = await session.execute(
        select(
            TriggerEvidence.trigger_id,
            TriggerEvidence.role,
            TriggerEvidence.score,
            TriggerEvidence.occurred_at,
            FollowUpEvent.site,
        )
        .outerjoin(FollowUpEvent, FollowUpEvent.id == TriggerEvidence.event_id)
        .where(TriggerEvidence.trigger_id.in_(trigger_ids))
        .order_by(TriggerEvidence.occurred_at, TriggerEvidence.role)
    )
    for trigger_id, role, score, at, site in rows:
        found.setdefault(trigger_id, []).append(EvidenceFact(role, score, at, site))
    return found


@dataclass(frozen=True)
class LabelFacts:
    patient: Patient
    first_procedure_at: datetime | None
    first_level: str | None


async def label_facts(
    session: AsyncSession, patient_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, LabelFacts]:
    """What a label needs, for the patients a page shows (loaded as ORM objects: the audit
    trail notes them)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    patients = (
        await session.scalars(
            select(Patient).where(Patient.id.in_(ids)).options(selectinload(Patient.identifiers))
        )
    ).all()
    first = (
        select(Procedure.patient_id, func.min(Procedure.performed_at).label("at"))
        .where(Procedure.patient_id.in_(ids))
        .group_by(Procedure.patient_id)
        .subquery()
    )
    firsts: dict[uuid.UUID, tuple[datetime, list[str]]] = {}
    for patient_id, at, level in await session.execute(
        select(first.c.patient_id, first.c.at, LevelTreated.level)
        .select_from(first)
        .join(
            Procedure,
            and_(Procedure.patient_id == first.c.patient_id, Procedure.performed_at == first.c.at),
        )
        .outerjoin(LevelTreated, LevelTreated.procedure_id == Procedure.id)
    ):
        entry = firsts.setdefault(patient_id, (at, []))
        if level:
            entry[1].append(level)
    return {
        p.id: LabelFacts(
            p,
            firsts[p.id][0] if p.id in firsts else None,
            next(iter(sort_levels(firsts[p.id][1])), None) if p.id in firsts else None,
        )
        for p in patients
    }
