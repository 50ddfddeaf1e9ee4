import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TimestampMixin, VersionedMixin


class FollowUpEvent(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A time-stamped observation after (or before) a procedure.

    One table for every kind, with typed columns per kind, so outcome statistics are plain SQL:
    pain, performance and function share scale / value (as given) / score (normalised).
    """

    __tablename__ = "follow_up_events"
    __table_args__ = (
        Index("ix_follow_up_events_patient_kind_time", "patient_id", "kind", "occurred_at"),
        CheckConstraint("kind <> 'pain' OR (score >= 0 AND score <= 10)", name="pain_score_range"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_range"),
        CheckConstraint("dose IS NULL OR dose >= 0", name="dose"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    procedure_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("procedures.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)

    # pain / performance / function
    scale: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    score: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    site: Mapped[str | None] = mapped_column(String(16))

    # medication
    drug: Mapped[str | None] = mapped_column(String(60))
    dose: Mapped[float | None] = mapped_column(Numeric(10, 3, asdecimal=False))
    dose_unit: Mapped[str | None] = mapped_column(String(8))
    route: Mapped[str | None] = mapped_column(String(16))
    doses_per_day: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    medication_status: Mapped[str | None] = mapped_column(String(16))
    is_opioid: Mapped[bool | None]
    weight_kg: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    # derived, unbounded by the inputs' own limits: double precision, never an overflow
    ome_mg_day: Mapped[float | None] = mapped_column(Float)
    ome_mg_kg_day: Mapped[float | None] = mapped_column(Float)
    ome_factors_version: Mapped[str | None] = mapped_column(String(40))

    # imaging / progression / treatment
    modality: Mapped[str | None] = mapped_column(String(16))
    treatment_type: Mapped[str | None] = mapped_column(String(24))
    finding: Mapped[str | None] = mapped_column(Text)
