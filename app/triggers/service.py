"""Imaging triggers: immediate evaluation, reading, and the clinicians' lifecycle transitions.

`evaluate_patient` runs in the transaction of every pain score recorded or corrected (the
follow-up service calls it, so events ingested through that service are covered too). It
fires rule B at once, revises day-14 decisions the sweep already took when later-arriving
data changes them, and closes as "superseded" every open trigger the data now proves wrong.
Day-14 checks not yet taken are left to the sweep, which takes them at the due time.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.common.pagination import fetch_page
from app.common.updates import check_version
from app.config import Settings, get_settings
from app.episodes.rules import PainFact, ProcedureFact, Thresholds
from app.errors import NotFound, RuleViolation
from app.models import (
    Day14Check,
    FollowUpEvent,
    ImagingTrigger,
    LevelTreated,
    Patient,
    Procedure,
    TriggerEvidence,
    TriggerTransition,
)
from app.models.base import new_id, utcnow
from app.notifications.outbox import enqueue, enqueue_batch
from app.procedures.levels import LEVEL_POSITION
from app.triggers import rules
from app.triggers.dialect import dialect_of

SYSTEM = "system"
CLOSED = frozenset({"resolved", "dismissed", "superseded"})
# who may move a trigger where; "superseded" is the system's alone
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "dismissed"}),
    "acknowledged": frozenset({"imaging_ordered", "dismissed"}),
    "imaging_ordered": frozenset({"resolved", "dismissed"}),
}


def trigger_rules(settings: Settings | None = None) -> rules.TriggerRules:
    s = settings or get_settings()
    return rules.TriggerRules(
        thresholds=Thresholds(s.baseline_window_days, s.improvement_points, s.improvement_fraction),
        check_day=s.trigger_check_day,
        window_start_day=s.trigger_window_start_day,
        min_baseline=s.trigger_min_baseline,
        worsening_points=s.worsening_points,
    )


# --- immediate evaluation ---------------------------------------------------------------


@dataclass(frozen=True)
class History:
    died_on: Any
    procedures: list[ProcedureFact]
    scores: list[PainFact]


async def load_history(session: AsyncSession, patient_id: uuid.UUID) -> History:
    patient = await session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("Patient", patient_id)
    procedures = (
        await session.scalars(
            select(Procedure)
            .where(Procedure.patient_id == patient_id)
            .options(selectinload(Procedure.levels))
        )
    ).all()
    pains = await session.execute(
        select(FollowUpEvent.id, FollowUpEvent.occurred_at, FollowUpEvent.score, FollowUpEvent.site)
        .where(FollowUpEvent.patient_id == patient_id, FollowUpEvent.kind == "pain")
        .where(FollowUpEvent.score.is_not(None))
    )
    return History(
        patient.death_date,
        [
            ProcedureFact(
                p.id, p.performed_at, p.kind, frozenset(lv.level for lv in p.levels), p.series_id
            )
            for p in procedures
        ],
        [
            PainFact(at, float(score), site or "back", eid)
            for eid, at, score, site in pains
            if score is not None
        ],
    )


async def evaluate_patient(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime | None = None
) -> list[ImagingTrigger]:
    """Bring a patient's triggers in line with the history as now known; returns those opened."""
    now = now or utcnow()
    r = trigger_rules()
    history = await load_history(session, patient_id)
    evaluation = rules.evaluate(history.procedures, history.scores, history.died_on, now, r)
    existing = list(
        (
            await session.scalars(
                select(ImagingTrigger)
                .where(ImagingTrigger.patient_id == patient_id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    checks = {
        (c.episode_key, c.t0_procedure_id): c
        for c in (
            await session.scalars(select(Day14Check).where(Day14Check.patient_id == patient_id))
        ).all()
    }
    expected: list[rules.Fired] = list(evaluation.worsenings)
    current_checks: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for decision in evaluation.day14:
        key = (decision.episode.key, rules.t0_procedure(decision.episode))
        current_checks.add(key)
        check = checks.get(key)
        if check is None:
            continue  # not decided yet: the sweep takes the decision at the due time
        if check.outcome != decision.outcome:
            check.outcome = decision.outcome
            check.baseline = decision.baseline.score if decision.baseline else None
            check.baseline_event_id = decision.baseline.id if decision.baseline else None
            check.checked_at = now
        if decision.fired:
            expected.append(decision.fired)
    wanted = {f.key for f in expected}

    for trigger in existing:
        if trigger.status == "open" and (
            (trigger.episode_key, trigger.rule, trigger.occurrence) not in wanted
        ):
            await supersede(session, trigger, _why_superseded(trigger, current_checks), now)

    live = {(t.episode_key, t.rule, t.occurrence) for t in existing if t.status != "superseded"}
    generations: dict[tuple[uuid.UUID, str, uuid.UUID], int] = {}
    for t in existing:
        k = (t.episode_key, t.rule, t.occurrence)
        generations[k] = max(generations.get(k, 0), t.generation + 1)
    batch = new_id()
    opened = [
        await _open(session, f, patient_id, generations.get(f.key, 0), batch, now)
        for f in expected
        if f.key not in live
    ]
    opened_triggers = [t for t in opened if t is not None]
    if opened_triggers:
        await enqueue_batch(session, batch, now)
    await session.flush()
    return opened_triggers


def _why_superseded(trigger: ImagingTrigger, current: set[tuple[uuid.UUID, uuid.UUID]]) -> str:
    if trigger.rule == rules.Rule.worsening:
        return "Later or corrected scores no longer show this worsening after improvement."
    if (trigger.episode_key, trigger.occurrence) not in current:
        return "The episode changed (a later session, or it ended before its day 14)."
    return "Later or corrected scores changed the day-14 decision for this episode."


async def _open(
    session: AsyncSession,
    fired: rules.Fired,
    patient_id: uuid.UUID,
    generation: int,
    batch: uuid.UUID,
    now: datetime,
) -> ImagingTrigger | None:
    """Insert one trigger unless a concurrent writer already did (ON CONFLICT DO NOTHING)."""
    insert = pg_insert if dialect_of(session).postgres else sqlite_insert
    trigger_id = new_id()
    values = {
        "id": trigger_id,
        "patient_id": patient_id,
        "episode_key": fired.episode.key,
        "procedure_id": rules.t0_procedure(fired.episode),
        "rule": fired.rule.value,
        "occurrence": fired.occurrence,
        "generation": generation,
        "status": "open",
        "t0": fired.episode.t0,
        "due_at": fired.due_at,
        "baseline": fired.baseline,
        "batch_id": batch,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    stmt = insert(ImagingTrigger).values(**values).on_conflict_do_nothing()
    inserted = await session.scalar(stmt.returning(ImagingTrigger.id))
    if inserted is None:
        return None
    evidence = {(e.event_id, e.role): e for e in fired.evidence if e.event_id is not None}
    session.add_all(
        TriggerEvidence(
            trigger_id=trigger_id,
            event_id=event_id,
            role=role,
            score=e.score,
            occurred_at=e.occurred_at,
        )
        for (event_id, role), e in evidence.items()
    )
    await session.flush()
    return await session.get(ImagingTrigger, trigger_id)


async def supersede(
    session: AsyncSession, trigger: ImagingTrigger, reason: str, now: datetime
) -> None:
    await _move(session, trigger, "superseded", SYSTEM, reason, now)


async def _move(
    session: AsyncSession,
    trigger: ImagingTrigger,
    to: str,
    actor: str,
    reason: str | None,
    now: datetime,
) -> None:
    session.add(
        TriggerTransition(
            trigger_id=trigger.id,
            from_status=trigger.status,
            to_status=to,
            actor=actor,
            reason=reason,
            at=now,
        )
    )
    trigger.status = to
    trigger.updated_at = now
    if to in CLOSED:
        trigger.closed_at = now
    await session.flush()
    await enqueue(session, trigger.id, to, now)


# --- lifecycle ----------------------------------------------------------------------------


async def get_trigger(session: AsyncSession, trigger_id: uuid.UUID) -> ImagingTrigger:
    trigger = await session.get(ImagingTrigger, trigger_id, populate_existing=True)
    if trigger is None:
        raise NotFound("Imaging trigger", trigger_id)
    return trigger


async def transition(
    session: AsyncSession,
    trigger_id: uuid.UUID,
    to: str,
    actor: str,
    reason: str | None,
    expected_version: int | None,
) -> ImagingTrigger:
    trigger = await get_trigger(session, trigger_id)
    check_version(trigger.version, expected_version, "Imaging trigger")
    allowed = TRANSITIONS.get(trigger.status, frozenset())
    if to not in allowed:
        options = ", ".join(sorted(allowed)) or "none: it is closed"
        raise RuleViolation(
            "to",
            f"A trigger that is {trigger.status} cannot become {to} (allowed: {options}).",
            "invalid-transition",
        )
    if to == "dismissed" and not reason:
        raise RuleViolation("reason", "Dismissing a trigger needs a reason.", "reason-required")
    await _move(session, trigger, to, actor, reason, utcnow())
    return await get_trigger(session, trigger_id)


# --- reading ------------------------------------------------------------------------------


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
