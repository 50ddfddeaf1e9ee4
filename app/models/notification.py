"""Webhook subscriptions, the transactional outbox and the delivery log.

An `OutboxMessage` is one event for one subscription, written in the same transaction as the
change it announces; its id is the stable message id receivers deduplicate on. Workers claim
messages with a lease (`locked_until`), so several can run at once and a crashed one's messages
are picked up again when the lease runs out (at-least-once).
"""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, JSONType, TimestampMixin, VersionedMixin, utcnow


class WebhookSubscription(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "webhook_subscriptions"

    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType)
    secret: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)


class OutboxMessage(IdMixin, Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(60))
    trigger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("imaging_triggers.id", ondelete="CASCADE"), index=True
    )
    trigger_status: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), server_default="pending")
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(80))
    payload: Mapped[str | None] = mapped_column(Text, doc="The body, fixed at the first attempt.")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class DeliveryAttempt(IdMixin, Base):
    __tablename__ = "delivery_attempts"

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    duration_ms: Mapped[float]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(12))
