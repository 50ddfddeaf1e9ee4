import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, IdMixin, TimestampMixin, VersionedMixin


class ProcedureSeries(IdMixin, TimestampMixin, Base):
    """A planned series of staged sessions (e.g. 8 levels treated in 2 sessions a week apart)."""

    __tablename__ = "procedure_series"
    __table_args__ = (
        CheckConstraint("planned_sessions >= 2", name="planned_sessions"),
        Index("uq_procedure_series_external", "external_source", "external_ref", unique=True),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    planned_sessions: Mapped[int]
    label: Mapped[str | None] = mapped_column(String(200))
    # the sending system's reference of the series (events); null for REST-created series
    external_source: Mapped[str | None] = mapped_column(String(120))
    external_ref: Mapped[str | None] = mapped_column(String(200))


class Procedure(IdMixin, TimestampMixin, VersionedMixin, Base):
    """One session in the interventional suite (or one course of another local treatment)."""

    __tablename__ = "procedures"
    __table_args__ = (
        UniqueConstraint("series_id", "stage_number"),
        UniqueConstraint("external_source", "external_ref"),
        Index("ix_procedures_patient_id_performed_at", "patient_id", "performed_at"),
        CheckConstraint("duration_min IS NULL OR duration_min > 0", name="duration_min"),
        CheckConstraint("inr IS NULL OR inr > 0", name="inr"),
        CheckConstraint("platelet_count IS NULL OR platelet_count >= 0", name="platelet_count"),
        CheckConstraint("target_pain_site IN ('back', 'leg')", name="target_pain_site"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    series_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("procedure_series.id", ondelete="RESTRICT"), index=True
    )
    stage_number: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(32))
    performed_at: Mapped[datetime]
    indication: Mapped[str | None] = mapped_column(String(32))
    # the pain the procedure is done for (app.clinical.enums.TargetPainSite)
    target_pain_site: Mapped[str] = mapped_column(String(8), default="back", server_default="back")
    anesthesia: Mapped[str | None] = mapped_column(String(32))
    guidance: Mapped[str | None] = mapped_column(String(32))
    operator: Mapped[str | None] = mapped_column(String(120))
    duration_min: Mapped[int | None]
    tumour_board_reviewed: Mapped[bool | None]
    tumour_board_date: Mapped[date | None]
    # pre-procedure work-up (clinical-rules.md section 2)
    consent_obtained: Mapped[bool | None]
    last_imaging_date: Mapped[date | None]
    last_imaging_modality: Mapped[str | None] = mapped_column(String(16))
    platelet_count: Mapped[float | None] = mapped_column(Numeric(8, 1, asdecimal=False))
    inr: Mapped[float | None] = mapped_column(Numeric(5, 2, asdecimal=False))
    # radiotherapy courses
    radiation_dose_cgy: Mapped[float | None] = mapped_column(Numeric(8, 1, asdecimal=False))
    radiation_fractions: Mapped[int | None]
    # the sending system's own reference, so follow-ups can point at it before it arrives
    external_source: Mapped[str | None] = mapped_column(String(120))
    external_ref: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)

    levels: Mapped[list["LevelTreated"]] = relationship(
        back_populates="procedure",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="LevelTreated.position",
    )
    series: Mapped[ProcedureSeries | None] = relationship(lazy="raise")


class LevelTreated(IdMixin, TimestampMixin, Base):
    """One vertebra treated in one procedure."""

    __tablename__ = "levels_treated"
    __table_args__ = (
        UniqueConstraint("procedure_id", "level"),
        CheckConstraint(
            "needle_gauge IS NULL OR (needle_gauge BETWEEN 10 AND 18)", name="needle_gauge"
        ),
        CheckConstraint(
            "cement_volume_ml IS NULL OR cement_volume_ml >= 0", name="cement_volume_ml"
        ),
    )

    procedure_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[str] = mapped_column(String(3), index=True)
    # craniocaudal order (C1 = 1 ... S5), so levels sort anatomically
    position: Mapped[int]
    is_variant: Mapped[bool] = mapped_column(default=False)
    approach: Mapped[str | None] = mapped_column(String(32))
    needle_gauge: Mapped[int | None]
    cement_volume_ml: Mapped[float | None] = mapped_column(Numeric(5, 2, asdecimal=False))
    leakage: Mapped[str | None] = mapped_column(String(32))

    procedure: Mapped[Procedure] = relationship(back_populates="levels", lazy="raise")
