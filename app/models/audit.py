import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow


class AuditEvent(IdMixin, Base):
    """One access to the API: who, what, which patient, how it ended. Append-only: the
    migration installs triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).

    One row per patient touched by a request (a list of 20 patients writes 20 rows, all with
    the same request id); a request that touches no patient writes one row without one.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_patient_id_id", "patient_id", "id"),
        Index("ix_audit_events_credential_id_id", "credential_id", "id"),
    )

    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    credential_id: Mapped[uuid.UUID | None]
    credential_kind: Mapped[str | None] = mapped_column(String(16))
    credential_label: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(200))
    resource_type: Mapped[str | None] = mapped_column(String(60))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[uuid.UUID | None]
    aggregate: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int]
    reason: Mapped[str | None] = mapped_column(String(60))
    client_address: Mapped[str | None] = mapped_column(String(64))
