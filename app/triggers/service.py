"""Imaging triggers: immediate evaluation, reading, and the clinicians' lifecycle transitions.

`evaluate_patients` runs after the commit of every change to a patient's pain scores,
procedures or death (app/triggers/marks.py: REST writes and ingestion alike). It
fires rule B at once, revises day-14 decisions the sweep already took when later-arriving
data changes them, and closes as "superseded" every open trigger the data now proves wrong.
Day-14 checks not yet taken are left to the sweep, which takes them at the due time.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

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


async def load_histories(
    session: AsyncSession, patient_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, History]:
    """The histories of those patients that have a procedure (the others have no episode, so
    no trigger): two queries, however many patients."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(
            Procedure.patient_id, Procedure.id, Procedure.performed_at, Procedure.kind,
            Procedure.series_id, LevelTreated.level, Patient.death_date,
        )
        .join(Patient, Patient.id == Procedure.patient_id)
        .outerjoin(LevelTreated, LevelTreated.procedure_id == Procedure.id)
        .where(Procedure.patient_id.in_(ids))
    )  # fmt: skip
    facts: dict[uuid.UUID, dict[uuid.UUID, tuple[Any, ...]]] = {}
    levels: dict[uuid.UUID, set[str]] = {}
    died: dict[uuid.UUID, Any] = {}
    for patient_id, procedure_id, performed_at, kind, series_id, level, death in rows:
        facts.setdefault(patient_id, {})[procedure_id] = (performed_at, kind, series_id)
        died[patient_id] = death
        if level is not None:
            levels.setdefault(procedure_id, set()).add(level)
    if not facts:
        return {}
    treated = sorted(facts)
    scores: dict[uuid.UUID, list[PainFact]] = {p: [] for p in treated}
    for patient_id, event_id, at, score, site in await session.execute(
        select(
            FollowUpEvent.patient_id, FollowUpEvent.id, FollowUpEvent.occurred_at,
            FollowUpEvent.score, FollowUpEvent.site,
        )
        .where(FollowUpEvent.patient_id.in_(treated), FollowUpEvent.kind == "pain")
        .where(FollowUpEvent.score.is_not(None))
    ):  # fmt: skip
        if score is not None:  # (the WHERE says so; the type does not)
            scores[patient_id].append(PainFact(at, float(score), site or "back", event_id))
    return {
        patient_id: History(
            died.get(patient_id),
            [
                ProcedureFact(pid, at, kind, frozenset(levels.get(pid, ())), series_id)
                for pid, (at, kind, series_id) in procedures.items()
            ],
            scores[patient_id],
        )
        for patient_id, procedures in facts.items()
    }


@dataclass
class Plan:
    """What an evaluation would change for one patient; computed from reads alone."""

    patient_id: uuid.UUID
    revised: list[tuple[Day14Check, rules.Day14]]
    superseded: list[tuple[ImagingTrigger, str]]
    opened: list[tuple[rules.Fired, int]]  # with the generation each would get

    @property
    def changes(self) -> bool:
        return bool(self.revised or self.superseded or self.opened)


async def plan_evaluations(
    session: AsyncSession, patient_ids: Iterable[uuid.UUID], now: datetime
) -> list[Plan]:
    """Plans for these patients (three or four queries in all): the rules over each history
    as now known, against the triggers and day-14 decisions already stored."""
    histories = await load_histories(session, patient_ids)
    if not histories:
        return []
    treated = sorted(histories)
    r = trigger_rules()
    evaluations = {
        p: rules.evaluate(h.procedures, h.scores, h.died_on, now, r) for p, h in histories.items()
    }
    existing: dict[uuid.UUID, list[ImagingTrigger]] = {p: [] for p in treated}
    for trigger in await session.scalars(
        select(ImagingTrigger)
        .where(ImagingTrigger.patient_id.in_(treated))
        .execution_options(populate_existing=True)
    ):
        existing[trigger.patient_id].append(trigger)
    checks: dict[uuid.UUID, dict[tuple[uuid.UUID, uuid.UUID], Day14Check]] = {
        p: {} for p in treated
    }
    decided = [p for p in treated if evaluations[p].day14]  # day 14 passed: maybe a decision
    if decided:
        for check in await session.scalars(
            select(Day14Check)
            .where(Day14Check.patient_id.in_(decided))
            .execution_options(populate_existing=True)
        ):
            checks[check.patient_id][(check.episode_key, check.t0_procedure_id)] = check
    return [
        _plan(patient_id, evaluations[patient_id], existing[patient_id], checks[patient_id])
        for patient_id in treated
    ]


def _plan(
    patient_id: uuid.UUID,
    evaluation: rules.Evaluation,
    existing: Sequence[ImagingTrigger],
    checks: dict[tuple[uuid.UUID, uuid.UUID], Day14Check],
) -> Plan:
    plan = Plan(patient_id, [], [], [])
    expected: list[rules.Fired] = list(evaluation.worsenings)
    current_checks: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for decision in evaluation.day14:
        key = (decision.episode.key, rules.t0_procedure(decision.episode))
        current_checks.add(key)
        check = checks.get(key)
        if check is None:
            continue  # not decided yet: the sweep takes the decision at the due time
        if check.outcome != decision.outcome:
            plan.revised.append((check, decision))
        if decision.fired:
            expected.append(decision.fired)
    wanted = {f.key for f in expected}
    for trigger in existing:
        if trigger.status == "open" and (
            (trigger.episode_key, trigger.rule, trigger.occurrence) not in wanted
        ):
            plan.superseded.append((trigger, _why_superseded(trigger, current_checks)))
    live = {(t.episode_key, t.rule, t.occurrence) for t in existing if t.status != "superseded"}
    generations: dict[tuple[uuid.UUID, str, uuid.UUID], int] = {}
    for t in existing:
        k = (t.episode_key, t.rule, t.occurrence)
        generations[k] = max(generations.get(k, 0), t.generation + 1)
    plan.opened = [(f, generations.get(f.key, 0)) for f in expected if f.key not in live]
    return plan


async def apply_plans(
    session: AsyncSession, plans: Iterable[Plan], now: datetime
) -> list[uuid.UUID]:
    """Carry the plans out; returns the ids of the triggers opened (a concurrent writer may
    have opened one first: ON CONFLICT DO NOTHING, and a superseded trigger's row version is
    checked)."""
    wanted: list[tuple[uuid.UUID, rules.Fired, int]] = []
    for plan in plans:
        for check, decision in plan.revised:
            check.outcome = decision.outcome
            check.baseline = decision.baseline.score if decision.baseline else None
            check.baseline_event_id = decision.baseline.id if decision.baseline else None
            check.checked_at = now
        for trigger, reason in plan.superseded:
            await supersede(session, trigger, reason, now)
        wanted.extend((plan.patient_id, fired, generation) for fired, generation in plan.opened)
    opened = await _open(session, wanted, now) if wanted else []
    await session.flush()
    return opened


async def evaluate_patients(
    session: AsyncSession, patient_ids: Iterable[uuid.UUID], now: datetime | None = None
) -> list[uuid.UUID]:
    """Bring these patients' triggers in line with their history as now known; returns the
    ids of the triggers opened. Writes nothing when nothing changes (the common case for a
    new score)."""
    now = now or utcnow()
    plans = [p for p in await plan_evaluations(session, patient_ids, now) if p.changes]
    return await apply_plans(session, plans, now) if plans else []


def _why_superseded(trigger: ImagingTrigger, current: set[tuple[uuid.UUID, uuid.UUID]]) -> str:
    if trigger.rule == rules.Rule.worsening:
        return "Later or corrected scores no longer show this worsening after improvement."
    if (trigger.episode_key, trigger.occurrence) not in current:
        return "The episode changed (a later session, or it ended before its day 14)."
    return "Later or corrected scores changed the day-14 decision for this episode."


_triggers = cast(Table, ImagingTrigger.__table__)
_evidence = cast(Table, TriggerEvidence.__table__)


async def _open(
    session: AsyncSession, wanted: Sequence[tuple[uuid.UUID, rules.Fired, int]], now: datetime
) -> list[uuid.UUID]:
    """Insert these triggers (patient, firing, generation) unless a concurrent writer already
    did (ON CONFLICT DO NOTHING), with their evidence and outbox messages: three statements
    for any number (with RETURNING, SQLAlchemy sends multi-row VALUES)."""
    insert = pg_insert if dialect_of(session).postgres else sqlite_insert
    batch = new_id()
    ids = [new_id() for _ in wanted]
    rows: list[dict[str, Any]] = [
        {
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
        for trigger_id, (patient_id, fired, generation) in zip(ids, wanted, strict=True)
    ]
    stmt = insert(_triggers).on_conflict_do_nothing().returning(_triggers.c.id)
    inserted = set((await session.execute(stmt, rows)).scalars())
    if not inserted:
        return []
    evidence: list[dict[str, Any]] = []
    for trigger_id, (_patient, fired, _generation) in zip(ids, wanted, strict=True):
        if trigger_id in inserted:
            unique = {(e.event_id, e.role): e for e in fired.evidence if e.event_id is not None}
            evidence.extend(
                {
                    "trigger_id": trigger_id,
                    "event_id": event_id,
                    "role": role,
                    "score": e.score,
                    "occurred_at": e.occurred_at,
                }
                for (event_id, role), e in unique.items()
            )
    if evidence:
        await session.execute(_evidence.insert().returning(_evidence.c.trigger_id), evidence)
    await enqueue_batch(session, batch, now)
    return [trigger_id for trigger_id in ids if trigger_id in inserted]


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
