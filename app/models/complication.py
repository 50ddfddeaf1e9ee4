import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TimestampMixin, VersionedMixin


class Complication(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "complications"
    __table_args__ = (
        CheckConstraint("cirse_grade IS NULL OR (cirse_grade BETWEEN 1 AND 6)", name="cirse"),
    )

    procedure_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), index=True
    )
    level_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("levels_treated.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    onset_at: Mapped[datetime | None]
    symptomatic: Mapped[bool]
    sir_classic: Mapped[str | None] = mapped_column(String(1))
    sir_2017: Mapped[str | None] = mapped_column(String(20))
    cirse_grade: Mapped[int | None]
    cirse_version: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
