"""The transactional outbox: messages are inserted in the transaction of the change they announce.

One message per (event, active subscription that wants the event). The message id is the
stable id receivers deduplicate on; the worker (`app.notifications.worker`) delivers them.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.clinical.enums import TriggerStatus
from app.common.sql import dialect_of, typed


class EventType(StrEnum):
    opened = "imaging_trigger.opened"
    acknowledged = "imaging_trigger.acknowledged"
    imaging_ordered = "imaging_trigger.imaging_ordered"
    resolved = "imaging_trigger.resolved"
    dismissed = "imaging_trigger.dismissed"
    superseded = "imaging_trigger.superseded"
    closed = "imaging_trigger.closed"


def event_for(status: str) -> EventType:
    if status == TriggerStatus.open:
        return EventType.opened
    return EventType(f"imaging_trigger.{TriggerStatus(status).value}")


async def enqueue_batch(session: AsyncSession, batch_id: uuid.UUID, now: datetime) -> int:
    """`imaging_trigger.opened` for every trigger created by the evaluation run `batch_id`."""
    d = dialect_of(session)
    stmt = typed(
        f"""
        INSERT INTO outbox_messages (id, subscription_id, event_type, trigger_id, trigger_status,
                                     status, attempts, next_attempt_at, created_at)
        SELECT {d.uuid7()}, s.id, CAST(:event AS text), t.id, '{TriggerStatus.open}', 'pending',
               0, :now, :now
        FROM imaging_triggers t
        JOIN webhook_subscriptions s ON s.active AND {d.json_list_has("s.events", "event")}
        WHERE t.batch_id = :batch
        """,
        uuids=("batch",),
        times=("now",),
    )
    result = await session.execute(
        stmt, {"event": EventType.opened.value, "batch": batch_id, "now": now}
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def enqueue(session: AsyncSession, trigger_id: uuid.UUID, status: str, now: datetime) -> int:
    """The event of one trigger reaching `status`, for every subscription that wants it."""
    d = dialect_of(session)
    event = event_for(status)
    stmt = typed(
        f"""
        INSERT INTO outbox_messages (id, subscription_id, event_type, trigger_id, trigger_status,
                                     status, attempts, next_attempt_at, created_at)
        SELECT {d.uuid7()}, s.id, CAST(:event AS text), :trigger, :status, 'pending', 0, :now, :now
        FROM webhook_subscriptions s
        WHERE s.active AND {d.json_list_has("s.events", "event")}
        """,
        uuids=("trigger",),
        times=("now",),
    )
    result = await session.execute(
        stmt, {"event": event.value, "trigger": trigger_id, "status": status, "now": now}
    )
    return int(getattr(result, "rowcount", 0) or 0)
