import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from app.clinical.enums import HistologyGroup, TargetPainSite
from app.complications.schemas import ComplicationRead
from app.follow_up.schemas import FollowUpRead
from app.patients.schemas import PatientRead
from app.procedures.schemas import ProcedureRead
from app.triggers.schemas import Day14CheckRead, ImagingTriggerRead


class TrajectoryPointRead(BaseModel):
    day: int = Field(description="Days after t0 (the episode's last session).")
    window_days: int = Field(description="The score is the one nearest the day within +/- this.")
    score: float | None
    occurred_at: datetime | None
    change: float | None = Field(description="score - baseline")
    improved: bool | None = Field(description=">= 2 points or >= 30 % below baseline")


class EpisodeRead(BaseModel):
    key: uuid.UUID = Field(description="The series id, or the procedure id of a single session.")
    procedure_ids: list[uuid.UUID]
    kind: str
    levels: list[str]
    first_at: datetime
    t0: datetime
    ended_at: datetime | None = Field(description="A later procedure on one of the same levels.")
    ended_by: uuid.UUID | None
    target_pain_site: TargetPainSite = Field(
        description="The pain its first session is done for: the site of its baseline, "
        "trajectory and day-14 check (rule B's worsening always reads back pain)."
    )
    baseline: float | None = Field(
        description="Latest score of the target site in the 30 days before the first session."
    )
    baseline_at: datetime | None
    baseline_missing: bool
    trajectory: list[TrajectoryPointRead]


class CaseProcedureRead(ProcedureRead):
    complications: list[ComplicationRead]
    episode: EpisodeRead


class CaseRead(BaseModel):
    patient: PatientRead
    procedures: list[CaseProcedureRead] = Field(description="In the order performed.")
    episodes: list[EpisodeRead]
    timeline: list[FollowUpRead] = Field(description="Every follow-up event, in time order.")
    imaging_triggers: list[ImagingTriggerRead] = Field(
        default_factory=list, description="The patient's imaging triggers, by due time."
    )
    day14_checks: list[Day14CheckRead] = Field(
        default_factory=list,
        description="The day-14 decision per episode (e.g. improved, baseline_missing).",
    )


class CaseSummary(BaseModel):
    patient_id: uuid.UUID
    sex: str
    birth_date: date | None
    histology: str | None
    histology_group: HistologyGroup | None
    death_date: date | None
    procedures: int
    levels: list[str] = Field(description="Distinct vertebrae treated, craniocaudal.")
    level_treatments: int
    first_procedure_at: datetime | None
    last_procedure_at: datetime | None
