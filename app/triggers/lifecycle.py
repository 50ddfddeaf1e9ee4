"""Imaging triggers' lifecycle: the clinicians' transitions, and the system's "superseded" and
"closed" (the patient died); each transition recorded with its actor and announced in the
outbox."""

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clinical.enums import TriggerStatus
from app.common.updates import check_version
from app.errors import NotFound, RuleViolation
from app.models import ImagingTrigger, Patient, TriggerTransition
from app.models.base import utcnow
from app.notifications.outbox import enqueue

SYSTEM = "system"
CLOSED = frozenset(
    {
        TriggerStatus.resolved,
        TriggerStatus.dismissed,
        TriggerStatus.superseded,
        TriggerStatus.closed,
    }
)
PATIENT_DIED = "patient_died"
# who may move a trigger where; "superseded" is the system's alone
TRANSITIONS: dict[str, frozenset[TriggerStatus]] = {
    TriggerStatus.open: frozenset({TriggerStatus.acknowledged, TriggerStatus.dismissed}),
    TriggerStatus.acknowledged: frozenset({TriggerStatus.imaging_ordered, TriggerStatus.dismissed}),
    TriggerStatus.imaging_ordered: frozenset({TriggerStatus.resolved, TriggerStatus.dismissed}),
}


async def supersede(
    session: AsyncSession, trigger: ImagingTrigger, reason: str, now: datetime
) -> None:
    await _move(session, trigger, TriggerStatus.superseded, SYSTEM, reason, now)


async def close_for_death(
    session: AsyncSession, patient_ids: Iterable[uuid.UUID], now: datetime
) -> list[uuid.UUID]:
    """A patient's death closes their triggers not yet closed: status `closed`, reason
    `patient_died`, by the system, in the history and the outbox. Only patients with a death
    date recorded (in this session) are touched; returns the triggers closed."""
    ids = sorted(set(patient_ids))
    if not ids:
        return []
    await session.flush()  # a death date set in this session
    triggers = (
        await session.scalars(
            select(ImagingTrigger)
            .join(Patient, Patient.id == ImagingTrigger.patient_id)
            .where(
                ImagingTrigger.patient_id.in_(ids),
                Patient.death_date.is_not(None),
                ImagingTrigger.status.not_in([s.value for s in CLOSED]),
            )
            .order_by(ImagingTrigger.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    for trigger in triggers:
        await _move(session, trigger, TriggerStatus.closed, SYSTEM, PATIENT_DIED, now)
    return [t.id for t in triggers]


async def close_batch_for_death(
    session: AsyncSession, batch_id: uuid.UUID, now: datetime
) -> list[uuid.UUID]:
    """`close_for_death` for the patients of the triggers an evaluation run (a sweep's batch)
    opened: a trigger opened for a patient already dead is closed at once."""
    patients = await session.scalars(
        select(ImagingTrigger.patient_id)
        .join(Patient, Patient.id == ImagingTrigger.patient_id)
        .where(ImagingTrigger.batch_id == batch_id, Patient.death_date.is_not(None))
        .distinct()
    )
    return await close_for_death(session, list(patients), now)


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
    if to == TriggerStatus.dismissed and not reason:
        raise RuleViolation("reason", "Dismissing a trigger needs a reason.", "reason-required")
    await _move(session, trigger, to, actor, reason, utcnow())
    return await get_trigger(session, trigger_id)
