import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow

UNSETTLED = "awaiting_procedure OR status IN ('pending', 'failed')"


class EventLog(IdMixin, Base):
    """Every event accepted from a sending system, as received, and what it produced.

    `(source, event_id)` is the idempotency key. Rows are never deleted; the payload, its hash
    and the key never change. What changes is the event's effect: `status` (applied, pending
    while a complication waits for its procedure, retracted, failed), the ids it produced and
    whether its procedure reference is still unresolved. A retraction that arrives before its
    event leaves a placeholder (no payload, status retracted) that the event fills in later.
    """

    __tablename__ = "event_log"
    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        Index("ix_event_log_procedure_key", "procedure_system", "procedure_ref"),
        # the few events an integration team looks for (GET /events?status=pending, ...)
        Index(
            "ix_event_log_unsettled",
            "id",
            postgresql_where=text(UNSETTLED),
            sqlite_where=text(UNSETTLED),
        ),
    )

    source: Mapped[str] = mapped_column(String(120))
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str | None] = mapped_column(String(40))
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    payload: Mapped[dict[str, Any] | None]
    payload_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # the row the event produced (follow-up, procedure, complication or patient) and all ids
    record_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the procedure the event refers to (or defines), as (system, reference) of the sender
    procedure_system: Mapped[str | None] = mapped_column(String(120))
    procedure_ref: Mapped[str | None] = mapped_column(String(200))
    awaiting_procedure: Mapped[bool] = mapped_column(default=False, server_default=false())
    retracted_by: Mapped[str | None] = mapped_column(String(200))
    problem: Mapped[dict[str, Any] | None]
