"""Imaging triggers' lifecycle: the clinicians' transitions, and the system's "superseded";
each transition recorded with its actor and announced in the outbox."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.clinical.enums import TriggerStatus
from app.common.updates import check_version
from app.errors import NotFound, RuleViolation
from app.models import ImagingTrigger, TriggerTransition
from app.models.base import utcnow
from app.notifications.outbox import enqueue

SYSTEM = "system"
CLOSED = frozenset({TriggerStatus.resolved, TriggerStatus.dismissed, TriggerStatus.superseded})
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
