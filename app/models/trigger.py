"""Imaging triggers (clinical-rules.md section 3): the records a rule firing leaves behind.

- `ImagingTrigger`: one firing of a rule for one episode. The natural key (episode_key, rule,
  occurrence, generation) is unique, so however often (and from however many processes)
  evaluation runs, an episode never yields a duplicate: writers insert with ON CONFLICT DO NOTHING.
  `occurrence` is the episode's last session (t0) for the day-14 rules and the improved score
  that armed a worsening for rule B; `generation` counts earlier firings of the same key that
  later data superseded.
- `TriggerEvidence`: the scores that fired it, copied as they were.
- `TriggerTransition`: the attributed, time-stamped lifecycle history.
- `Day14Check`: the day-14 decision taken for an episode and its t0 session, whatever it was
  (improved, baseline missing, ...): the sweep evaluates each episode once and skips it after.
- `TriggerEvaluationMark`: a patient whose history a committed write changed and whose
  triggers are not re-evaluated yet (app/triggers/marks.py).
"""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clinical.enums import TriggerRule, TriggerStatus, sql_values
from app.models.base import Base, IdMixin, TimestampMixin, VersionedMixin, utcnow


class ImagingTrigger(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "imaging_triggers"
    __table_args__ = (
        UniqueConstraint("episode_key", "rule", "occurrence", "generation"),
        Index("ix_imaging_triggers_patient_id_due_at", "patient_id", "due_at"),
        Index("ix_imaging_triggers_status_due_at", "status", "due_at"),
        CheckConstraint(f"rule IN ({sql_values(TriggerRule)})", name="rule"),
        CheckConstraint(f"status IN ({sql_values(TriggerStatus)})", name="status"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    episode_key: Mapped[uuid.UUID] = mapped_column(
        doc="The series id, or the procedure id of a single session."
    )
    procedure_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), index=True, doc="The t0 session."
    )
    rule: Mapped[str] = mapped_column(String(24))
    occurrence: Mapped[uuid.UUID]
    generation: Mapped[int] = mapped_column(server_default="0")
    status: Mapped[str] = mapped_column(String(20), server_default=TriggerStatus.open.value)
    t0: Mapped[datetime]
    due_at: Mapped[datetime]
    baseline: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    closed_at: Mapped[datetime | None]
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        index=True, doc="The evaluation run that created it (fans out its outbox messages)."
    )


class TriggerEvidence(Base):
    __tablename__ = "imaging_trigger_evidence"

    trigger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("imaging_triggers.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("follow_up_events.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    score: Mapped[float] = mapped_column(Numeric(6, 2, asdecimal=False))
    occurred_at: Mapped[datetime]


class TriggerTransition(IdMixin, Base):
    __tablename__ = "imaging_trigger_transitions"

    trigger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("imaging_triggers.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Day14Check(Base):
    __tablename__ = "imaging_day14_checks"

    episode_key: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    t0_procedure_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), primary_key=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    t0: Mapped[datetime]
    due_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(32))
    baseline: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    baseline_event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("follow_up_events.id", ondelete="SET NULL")
    )
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(index=True)


class TriggerEvaluationMark(Base):
    """Written in the writing transaction, deleted in the one that re-evaluates the patient:
    a mark older than a minute means its evaluation was lost (a crash after the commit)."""

    __tablename__ = "imaging_trigger_marks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    patient_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(index=True)
