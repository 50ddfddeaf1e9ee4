import uuid

from sqlalchemy import CheckConstraint, ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin

OWNER = (
    "(resource_type = 'Procedure' AND procedure_id IS NOT NULL AND follow_up_id IS NULL) OR "
    "(resource_type = 'Observation' AND follow_up_id IS NOT NULL AND procedure_id IS NULL)"
)


class ResourceIdentifier(IdMixin, Base):
    """An identifier the sending system gives a procedure or an observation (system + value),
    as sent to the FHIR door, so a retry or a conditional create finds the record again.

    Unique per resource type, not per patient: like a patient's MRN, a sender's identifier names
    one record, and the same one arriving for another patient is a mistake to refuse.
    """

    __tablename__ = "resource_identifiers"
    __table_args__ = (
        UniqueConstraint("resource_type", "system", "value"),
        CheckConstraint(OWNER, name="one_owner"),
    )

    resource_type: Mapped[str] = mapped_column(String(16))
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(SmallInteger)  # the order sent (identifier[n])
    procedure_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), index=True
    )
    follow_up_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("follow_up_events.id", ondelete="CASCADE"), index=True
    )
