import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow


class EventRejection(IdMixin, Base):
    """An event the registry refused (invalid, conflicting, unknown patient), so the sender can
    find out what became of it (GET /events?status=rejected). Written in a transaction of its
    own, after the request's rolled back. The payload is kept as received, under the same
    access rules as event_log's (scope events:write), for EVENT_REJECTIONS_RETENTION_DAYS;
    `source`, `event_id` and `type` are what could be read of it (absent when unreadable)."""

    __tablename__ = "event_rejections"
    __table_args__ = (
        Index("ix_event_rejections_key", "source", "event_id"),
        Index("ix_event_rejections_patient", "patient_system", "patient_value"),
    )

    source: Mapped[str | None] = mapped_column(String(120))
    event_id: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str | None] = mapped_column(String(40))
    patient_system: Mapped[str | None] = mapped_column(String(200))
    patient_value: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None]
    payload_hash: Mapped[str] = mapped_column(String(64))
    problem: Mapped[dict[str, Any]]
    credential_id: Mapped[uuid.UUID | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
