import secrets
import uuid
from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clinical.enums import HistologyGroup
from app.models.base import Base, IdMixin, TimestampMixin, VersionedMixin

GROUP_CODES = ", ".join(f"'{g.value}'" for g in HistologyGroup)


class Patient(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "patients"
    # the statistics publish the group as a label: nothing outside the vocabulary, whoever writes
    __table_args__ = (
        CheckConstraint(f"histology_group IN ({GROUP_CODES})", name="histology_group"),
    )

    birth_date: Mapped[date | None]
    sex: Mapped[str] = mapped_column(String(16), default="unknown")
    histology: Mapped[str | None] = mapped_column(String(120), index=True)  # free text
    histology_group: Mapped[str | None] = mapped_column(String(4))  # HistologyGroup
    primary_site: Mapped[str | None] = mapped_column(String(120))
    diagnosis_date: Mapped[date | None]
    relapsed_refractory: Mapped[bool | None]
    death_date: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(Text)
    # disclosure control (issue 16; app/outcomes/disclosure.py): a permanent random secret
    # from which the statistics' noise is drawn; never in any schema, export or log
    disclosure_key: Mapped[int] = mapped_column(BigInteger, default=lambda: secrets.randbits(63))

    identifiers: Mapped[list["PatientIdentifier"]] = relationship(
        back_populates="patient", lazy="raise", cascade="all, delete-orphan"
    )


class PatientIdentifier(IdMixin, Base):
    """An identifier another system gives the patient (system + value), e.g. a hospital MRN."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("system", "value"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(200))

    patient: Mapped[Patient] = relationship(back_populates="identifiers", lazy="raise")
