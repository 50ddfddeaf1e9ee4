import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, JSONType, utcnow


class BulkExport(IdMixin, Base):
    """A FHIR Bulk Data export (GET /fhir/r4/$export): asked by one credential, run by a
    background job in whichever API process claims it (a lease, taken again when it lapses),
    its NDJSON files kept under BULK_EXPORT_DIR until `expires_at`."""

    __tablename__ = "bulk_exports"
    __table_args__ = (Index("ix_bulk_exports_status", "status", "lease_until"),)

    credential_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # the asking credential's view: its files hold external identifiers only if it sees them
    sees_identifiers: Mapped[bool]
    level: Mapped[str] = mapped_column(String(16))  # system | patient
    request: Mapped[str] = mapped_column(String(2000))
    types: Mapped[list[str]] = mapped_column(JSONType)
    since: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12))  # queued running done failed
    transaction_time: Mapped[datetime] = mapped_column(default=utcnow)
    progress: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    output: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    # whom the files hold: each download is audited for each of them
    patient_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
