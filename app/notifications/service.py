"""Webhook subscriptions and the delivery log."""

import secrets
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import fetch_page
from app.common.updates import check_version
from app.config import get_settings
from app.errors import Conflict, NotFound, RuleViolation
from app.models import DeliveryAttempt, OutboxMessage, WebhookSubscription
from app.models.base import utcnow
from app.notifications import destinations
from app.notifications.schemas import (
    AttemptRead,
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionUpdate,
)


async def _allowed(url: str) -> str:
    """The URL, if webhooks may go there (app/notifications/destinations.py)."""
    try:
        await destinations.check_registration(url, destinations.Policy.of(get_settings()))
    except destinations.Refused as exc:
        raise RuleViolation("url", exc.reason, "url-not-allowed") from None
    return url


async def create_subscription(
    session: AsyncSession, data: SubscriptionCreate
) -> WebhookSubscription:
    subscription = WebhookSubscription(
        url=await _allowed(str(data.url)),
        events=[e.value for e in data.events],
        secret=data.secret or secrets.token_urlsafe(32),
        description=data.description,
        active=True,
    )
    session.add(subscription)
    await session.flush()
    return subscription


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID
) -> WebhookSubscription:
    subscription = await session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound("Subscription", subscription_id)
    return subscription


async def list_subscriptions(
    session: AsyncSession, *, active: bool | None, cursor: str | None, limit: int
) -> tuple[Sequence[WebhookSubscription], str | None]:
    stmt = select(WebhookSubscription)
    if active is not None:
        stmt = stmt.where(WebhookSubscription.active == active)
    return await fetch_page(session, stmt, WebhookSubscription.id, cursor, limit)


async def update_subscription(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    patch: SubscriptionUpdate,
    expected_version: int | None,
) -> WebhookSubscription:
    subscription = await get_subscription(session, subscription_id)
    check_version(subscription.version, expected_version, "Subscription")
    changes = patch.model_dump(exclude_unset=True)
    if "url" in changes and patch.url is not None:
        subscription.url = await _allowed(str(patch.url))
    if "events" in changes and patch.events is not None:
        subscription.events = sorted({e.value for e in patch.events})
    if "description" in changes:
        subscription.description = patch.description
    if "active" in changes and patch.active is not None:
        subscription.active = patch.active
    if "secret" in changes and patch.secret is not None:
        subscription.secret = patch.secret
    await session.flush()
    return subscription


async def disable_subscription(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    """Subscriptions are disabled, not deleted: their delivery log stays readable."""
    subscription = await get_subscription(session, subscription_id)
    if subscription.active:
        subscription.active = False
        await session.flush()


async def _attempts(
    session: AsyncSession, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[DeliveryAttempt]]:
    found: dict[uuid.UUID, list[DeliveryAttempt]] = {}
    if not message_ids:
        return found
    for a in await session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.message_id.in_(message_ids))
        .order_by(DeliveryAttempt.started_at, DeliveryAttempt.id)
    ):
        found.setdefault(a.message_id, []).append(a)
    return found


def _read(message: OutboxMessage, attempts: Sequence[DeliveryAttempt]) -> DeliveryRead:
    return DeliveryRead(
        id=message.id,
        subscription_id=message.subscription_id,
        event_type=message.event_type,
        trigger_id=message.trigger_id,
        status=message.status,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at,
        last_status_code=message.last_status_code,
        last_error=message.last_error,
        created_at=message.created_at,
        delivered_at=message.delivered_at,
        log=[AttemptRead.model_validate(a) for a in attempts],
    )


async def list_deliveries(
    session: AsyncSession,
    *,
    subscription_id: uuid.UUID | None,
    trigger_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[DeliveryRead], str | None]:
    stmt = select(OutboxMessage)
    if subscription_id:
        stmt = stmt.where(OutboxMessage.subscription_id == subscription_id)
    if trigger_id:
        stmt = stmt.where(OutboxMessage.trigger_id == trigger_id)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    rows, next_cursor = await fetch_page(session, stmt, OutboxMessage.id, cursor, limit)
    attempts = await _attempts(session, [m.id for m in rows])
    return [_read(m, attempts.get(m.id, [])) for m in rows], next_cursor


async def get_delivery(session: AsyncSession, message_id: uuid.UUID) -> DeliveryRead:
    message = await session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None:
        raise NotFound("Delivery", message_id)
    return _read(message, (await _attempts(session, [message.id])).get(message.id, []))


async def redeliver(session: AsyncSession, message_id: uuid.UUID) -> DeliveryRead:
    """Queue a message again (dead or delivered): same id, same body, a fresh attempt budget."""
    message = await session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None:
        raise NotFound("Delivery", message_id)
    if message.status == "pending":
        raise Conflict("This message is already queued for delivery.", "already-pending")
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.locked_until = None
    message.locked_by = None
    await session.flush()
    return await get_delivery(session, message_id)
