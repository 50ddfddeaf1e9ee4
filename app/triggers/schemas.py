import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.clinical.enums import TriggerRule, TriggerStatus
from app.common.schemas import InputModel
from app.triggers.reads import TriggerDetails


class EvidenceRead(BaseModel):
    role: str = Field(
        description="baseline; score (day-14 window); improvement, lowest, worsening (rule B)."
    )
    event_id: uuid.UUID = Field(description="The follow-up event (a pain score).")
    score: float = Field(description="The back-pain score (0-10) as it was when the rule fired.")
    occurred_at: datetime


class TransitionRead(BaseModel):
    from_status: str
    to_status: str
    actor: str
    reason: str | None
    at: datetime


CASE_DATA = "The case's data: only for credentials with cases:read (absent otherwise)."


class ImagingTriggerRead(BaseModel):
    """A trigger as `triggers:read` sees it; `cases:read` also sees the case data behind it
    (the fields marked so), which are then always present, null or not."""

    id: uuid.UUID
    patient_id: uuid.UUID
    rule: TriggerRule = Field(
        description="no_improvement and follow_up_overdue: rule A (day 14); worsening: rule B."
    )
    status: TriggerStatus
    episode_key: uuid.UUID = Field(description="The series id, or the procedure id.")
    procedure_id: uuid.UUID = Field(description="The episode's last session (t0).")
    procedure_ids: list[uuid.UUID] | None = Field(None, description=CASE_DATA)
    levels: list[str] | None = Field(None, description=CASE_DATA)
    t0: datetime | None = Field(None, description=f"The procedure's time. {CASE_DATA}")
    due_at: datetime = Field(
        description="Rule A: t0 + 14 days. Rule B: when the worsening score was taken."
    )
    baseline: float | None = Field(None, description=f"A pain score. {CASE_DATA}")
    evidence: list[EvidenceRead] | None = Field(
        None, description=f"The scores that fired it. {CASE_DATA}"
    )
    history: list[TransitionRead]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


class TransitionIn(InputModel):
    to: Literal[
        TriggerStatus.acknowledged,
        TriggerStatus.imaging_ordered,
        TriggerStatus.resolved,
        TriggerStatus.dismissed,
    ]
    actor: str | None = Field(
        None,
        min_length=1,
        max_length=120,
        description="The clinician acting, recorded with the credential that sends the request.",
    )
    reason: str | None = Field(None, max_length=4000, description="Required to dismiss.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"to": "acknowledged", "actor": "Dr M. Heran"},
                {"to": "dismissed", "reason": "Pain explained by a new rib metastasis."},
            ]
        }
    }


class Day14CheckRead(BaseModel):
    episode_key: uuid.UUID
    t0_procedure_id: uuid.UUID
    t0: datetime
    due_at: datetime
    outcome: str = Field(
        description="no_improvement, follow_up_overdue, improved, baseline_missing, "
        "baseline_below_threshold, ended_before_due or patient_died."
    )
    baseline: float | None
    checked_at: datetime

    model_config = {"from_attributes": True}


def to_read(d: TriggerDetails, *, case_data: bool = True) -> ImagingTriggerRead:
    """Without `case_data` the case's fields are left unset: serialize with exclude_unset."""
    t = d.trigger
    case = {
        "procedure_ids": d.procedure_ids,
        "levels": d.levels,
        "t0": t.t0,
        "baseline": t.baseline,
        "evidence": [
            EvidenceRead(role=e.role, event_id=e.event_id, score=e.score, occurred_at=e.occurred_at)
            for e in d.evidence
        ],
    }
    return ImagingTriggerRead.model_validate(
        {
            **(case if case_data else {}),
            "id": t.id,
            "patient_id": t.patient_id,
            "rule": t.rule,
            "status": t.status,
            "episode_key": t.episode_key,
            "procedure_id": t.procedure_id,
            "due_at": t.due_at,
            "history": [
                TransitionRead(
                    from_status=h.from_status,
                    to_status=h.to_status,
                    actor=h.actor,
                    reason=h.reason,
                    at=h.at,
                )
                for h in d.history
            ],
            "created_at": t.created_at,
            "updated_at": t.updated_at,
            "closed_at": t.closed_at,
            "version": t.version,
        }
    )
