"""The follow-up worklist: one row per thing a person must do (issue 18, section 1).

- `pain_score_due`: an open vertebroplasty/kyphoplasty episode's next protocol time point
  (clinical-rules.md section 4: day 7 +/- 3, 14 +/- 4, 30 +/- 7, 90 +/- 21, 180 +/- 30, 365 +/- 60,
  `app.clinical.definitions.TIME_POINTS`), from when its window opens until it closes;
- `imaging_trigger`: an imaging trigger not yet closed (open, acknowledged, imaging ordered),
  its evidence as one sentence.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from app.clinical.enums import ProcedureKind, TargetPainSite, TriggerRule, TriggerStatus
from app.common.schemas import UtcDatetime


class WorklistKind(StrEnum):
    pain_score_due = "pain_score_due"
    imaging_trigger = "imaging_trigger"


DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class WorklistQuery(BaseModel):
    """What to list: every filter is optional; `as_of` defaults to now."""

    kind: WorklistKind | None = Field(None, description="Only rows of this kind.")
    due_before: UtcDatetime | None = Field(None, description="Rows due at or before this time.")
    due_after: UtcDatetime | None = Field(None, description="Rows due at or after this time.")
    operator: str | None = Field(
        None, max_length=120, description="Episodes with a session by this operator (exact)."
    )
    level: str | None = Field(None, max_length=3, description="Episodes treating this level.")
    as_of: UtcDatetime | None = Field(
        None,
        description="Plan for this moment instead of now (windows open then, triggers "
        "due by then).",
    )
    cursor: str | None = Field(None, max_length=200)
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class WorklistRow(BaseModel):
    id: str = Field(
        description="Stable row id: the trigger id, or `<episode key>:<day>` for a pain score."
    )
    kind: WorklistKind
    patient_id: uuid.UUID
    patient_label: str = Field(
        description="A label to tell patients apart: an external identifier (MRN) for "
        "credentials that may see identifiers (cases:write, events:write), otherwise sex, age "
        "at the first procedure, ICCC-3 group, first level treated and a short id."
    )
    episode_key: uuid.UUID = Field(description="The series id, or the procedure id.")
    procedure_id: uuid.UUID = Field(description="The episode's last session (t0).")
    procedure_kind: ProcedureKind
    levels: list[str] = Field(description="The episode's levels, craniocaudal.")
    operators: list[str] = Field(description="The episode's sessions' operators, as recorded.")
    t0: datetime = Field(description="The episode's last session: follow-up days count from it.")
    target_pain_site: TargetPainSite = Field(
        description="The pain the episode's procedure targets: the site to score."
    )
    due_at: datetime = Field(
        description="Pain score: t0 + day. Trigger: its due time (rule A t0 + 14 days, rule B "
        "the worsening score's time)."
    )
    overdue: bool = Field(description="due_at is before as_of.")
    # pain_score_due
    day: int | None = Field(
        None, description="The protocol time point (days after t0): 7, 14, 30, 90, 180, 365."
    )
    window_opens: datetime | None = Field(None, description="t0 + day - half-width.")
    window_closes: datetime | None = Field(None, description="t0 + day + half-width.")
    score_in_window: bool | None = Field(
        None, description="A target-site score already lies in the window (taken by as_of)."
    )
    # imaging_trigger
    trigger_id: uuid.UUID | None = None
    rule: TriggerRule | None = None
    status: TriggerStatus | None = None
    version: int | None = Field(
        None, description='The trigger\'s version: send `If-Match: "<version>"` to act on it.'
    )
    etag: str | None = Field(None, description="The trigger's ETag, for If-Match.")
    sentence: str = Field(description="What is to be done and why, in one plain sentence.")


class WorklistPage(BaseModel):
    items: list[WorklistRow]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; absent on the last page."
    )
    as_of: datetime = Field(description="The moment the worklist was planned for.")
