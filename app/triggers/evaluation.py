"""Imaging triggers' immediate evaluation: the rules over each history as now known, against
the triggers and day-14 decisions already stored.

`evaluate_patients` runs after the commit of every change to a patient's pain scores,
procedures or death (app/triggers/marks.py: REST writes and ingestion alike). It
fires rule B at once, takes the day-14 decisions already due that rest on data present
(`rules.DECIDED_AT_WRITE`: a late procedure whose day 14 has passed gets its no_improvement at
the write, not at the next sweep), revises day-14 decisions already taken when later-arriving
data changes them, and closes as "superseded" every open trigger the data now proves wrong.
Decisions that rest on absent data (no baseline, no score in the window) are left to the
sweep, which takes them at the due time.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.clinical.definitions import Definitions
from app.clinical.enums import TriggerRule, TriggerStatus
from app.clinical.episodes import ProcedureFact
from app.clinical.pain import PainFact
from app.common.sql import dialect_of
from app.config import Settings, get_settings
from app.models import (
    Day14Check,
    FollowUpEvent,
    ImagingTrigger,
    LevelTreated,
    Patient,
    Procedure,
    TriggerEvidence,
)
from app.models.base import new_id, utcnow
from app.notifications.outbox import enqueue_batch
from app.observability import metrics
from app.triggers import rules
from app.triggers.lifecycle import supersede


def trigger_rules(settings: Settings | None = None) -> Definitions:
    return Definitions.from_settings(settings or get_settings())


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
            Procedure.series_id, Procedure.target_pain_site, LevelTreated.level,
            Patient.death_date,
        )
        .join(Patient, Patient.id == Procedure.patient_id)
        .outerjoin(LevelTreated, LevelTreated.procedure_id == Procedure.id)
        .where(Procedure.patient_id.in_(ids))
    )  # fmt: skip
    facts: dict[uuid.UUID, dict[uuid.UUID, tuple[Any, ...]]] = {}
    levels: dict[uuid.UUID, set[str]] = {}
    died: dict[uuid.UUID, Any] = {}
    for patient_id, procedure_id, performed_at, kind, series_id, target, level, death in rows:
        facts.setdefault(patient_id, {})[procedure_id] = (performed_at, kind, series_id, target)
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
            scores[patient_id].append(PainFact(at, float(score), site, event_id))
    return {
        patient_id: History(
            died.get(patient_id),
            [
                ProcedureFact(pid, at, kind, frozenset(levels.get(pid, ())), series_id, target)
                for pid, (at, kind, series_id, target) in procedures.items()
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
    decided: list[rules.Day14] = field(default_factory=list)  # due, not yet taken

    @property
    def changes(self) -> bool:
        return bool(self.revised or self.superseded or self.opened or self.decided)


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
            if decision.outcome not in rules.DECIDED_AT_WRITE:
                continue  # rests on absent data: the sweep decides at the due time
            plan.decided.append(decision)
        elif check.outcome != decision.outcome:
            plan.revised.append((check, decision))
        if decision.fired:
            expected.append(decision.fired)
    wanted = {f.key for f in expected}
    for trigger in existing:
        if trigger.status == TriggerStatus.open and (
            (trigger.episode_key, trigger.rule, trigger.occurrence) not in wanted
        ):
            plan.superseded.append((trigger, _why_superseded(trigger, current_checks)))
    live = {
        (t.episode_key, t.rule, t.occurrence)
        for t in existing
        if t.status != TriggerStatus.superseded
    }
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
    raced: list[uuid.UUID] = []
    for plan in plans:
        for check, decision in plan.revised:
            check.outcome = decision.outcome
            check.baseline = decision.baseline.score if decision.baseline else None
            check.baseline_event_id = decision.baseline.id if decision.baseline else None
            check.checked_at = now
        if plan.decided and not await _decide(session, plan.patient_id, plan.decided, now):
            raced.append(plan.patient_id)
            continue
        for trigger, reason in plan.superseded:
            await supersede(session, trigger, reason, now)
        wanted.extend((plan.patient_id, fired, generation) for fired, generation in plan.opened)
    opened = await _open(session, wanted, now) if wanted else []
    await session.flush()
    if raced:  # a sweep decided first: plan again from what it stored (its check, its trigger)
        opened += await evaluate_patients(session, raced, now)
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


_checks = cast(Table, Day14Check.__table__)


async def _decide(
    session: AsyncSession, patient_id: uuid.UUID, decisions: Sequence[rules.Day14], now: datetime
) -> bool:
    """Store day-14 decisions taken at a write; False when a sweep stored one of them first
    (ON CONFLICT DO NOTHING on the episode and t0, which on PostgreSQL waits for the sweep's
    transaction): the caller then plans again from the sweep's decision, revising it, rather
    than open its own trigger beside the sweep's."""
    insert = pg_insert if dialect_of(session).postgres else sqlite_insert
    rows = [
        {
            "episode_key": d.episode.key,
            "t0_procedure_id": rules.t0_procedure(d.episode),
            "patient_id": patient_id,
            "t0": d.episode.t0,
            "due_at": d.due_at,
            "outcome": d.outcome.value,
            "baseline": d.baseline.score if d.baseline else None,
            "baseline_event_id": d.baseline.id if d.baseline else None,
            "checked_at": now,
        }
        for d in decisions
    ]
    stmt = insert(_checks).on_conflict_do_nothing().returning(_checks.c.episode_key)
    inserted = (await session.execute(stmt, rows)).scalars().all()
    return len(inserted) == len(rows)


def _why_superseded(trigger: ImagingTrigger, current: set[tuple[uuid.UUID, uuid.UUID]]) -> str:
    if trigger.rule == TriggerRule.worsening:
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
            "status": TriggerStatus.open.value,
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
    metrics.triggers_opened(r["rule"] for r in rows if r["id"] in inserted)
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
