import uuid
from datetime import date, datetime
from typing import Self

from pydantic import Field, computed_field, model_validator

from app.clinical.days import clinical_date
from app.clinical.enums import (
    AUGMENTATION_KINDS,
    Anesthesia,
    Approach,
    Guidance,
    ImagingModality,
    Indication,
    Leakage,
    ProcedureKind,
    TargetPainSite,
)
from app.clinical.levels import LEVEL_REGION, SNOMED_VERTEBRA, Region
from app.common.schemas import InputModel, PastDate, PastDatetime, ReadModel
from app.config import get_settings


class LevelIn(InputModel):
    level: str = Field(
        min_length=2,
        max_length=3,
        description="C1-C7, T1-T12, L1-L5, S1-S5; T13 and L6 only with is_variant.",
        examples=["T7"],
    )
    is_variant: bool = Field(False, description="The level is an anatomical variant (T13, L6).")
    approach: Approach | None = None
    needle_gauge: int | None = Field(None, ge=10, le=18, description="Bone needle gauge (G).")
    cement_volume_ml: float | None = Field(None, ge=0, le=50, description="PMMA volume, mL.")
    leakage: Leakage | None = Field(None, description="Cement leakage site; `none` if none seen.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "level": "L3",
                    "approach": "transpedicular",
                    "needle_gauge": 13,
                    "cement_volume_ml": 3.5,
                    "leakage": "none",
                }
            ]
        }
    }


class LevelUpdate(InputModel):
    approach: Approach | None = None
    needle_gauge: int | None = Field(None, ge=10, le=18)
    cement_volume_ml: float | None = Field(None, ge=0, le=50)
    leakage: Leakage | None = None

    model_config = {"json_schema_extra": {"examples": [{"leakage": "basivertebral_vein"}]}}


class LevelRead(ReadModel):
    id: uuid.UUID
    level: str
    is_variant: bool
    approach: Approach | None
    needle_gauge: int | None
    cement_volume_ml: float | None
    leakage: Leakage | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def region(self) -> Region:
        return LEVEL_REGION[self.level]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def snomed_code(self) -> str | None:
        return SNOMED_VERTEBRA.get(self.level)


class WorkUp(InputModel):
    """The pre-procedure work-up (clinical-rules.md section 2); unknown items stay null."""

    consent_obtained: bool | None = None
    last_imaging_date: PastDate | None = Field(None, description="Date of the last CT or MRI.")
    last_imaging_modality: ImagingModality | None = None
    platelet_count: float | None = Field(None, ge=0, le=5000, description="x 10^9/L")
    inr: float | None = Field(None, gt=0, le=20)


class ProcedureDetails(InputModel):
    """What a session records besides its time: shared by the REST API and ingested events."""

    kind: ProcedureKind
    indication: Indication | None = None
    target_pain_site: TargetPainSite = Field(
        TargetPainSite.back,
        description="The pain the procedure is done for: back (axial, the default) or leg "
        "(radicular pain from the treated level). Its episode's baseline, day-14 check (rule A), "
        "trajectory and outcome figures use scores of this site; the worsening rule (B) "
        "always reads back pain.",
    )
    anesthesia: Anesthesia | None = None
    guidance: Guidance | None = None
    operator: str | None = Field(None, max_length=120)
    duration_min: int | None = Field(None, ge=1, le=720)
    tumour_board_reviewed: bool | None = None
    tumour_board_date: PastDate | None = None
    work_up: WorkUp = Field(default_factory=WorkUp)
    radiation_dose_cgy: float | None = Field(None, gt=0, le=10000)
    radiation_fractions: int | None = Field(None, ge=1, le=60)
    notes: str | None = Field(None, max_length=4000)


class ProcedureFields(ProcedureDetails):
    performed_at: PastDatetime

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is not ProcedureKind.radiotherapy and (
            self.radiation_dose_cgy is not None or self.radiation_fractions is not None
        ):
            raise ValueError("radiation_dose_cgy and radiation_fractions are for radiotherapy")
        day = clinical_date(self.performed_at, get_settings().registry_time_zone)
        if self.tumour_board_date and self.tumour_board_date > day:
            raise ValueError("tumour_board_date is after the procedure")
        if self.work_up.last_imaging_date and self.work_up.last_imaging_date > day:
            raise ValueError("work_up.last_imaging_date is after the procedure")
        return self


class ProcedureCreate(ProcedureFields):
    patient_id: uuid.UUID
    series_id: uuid.UUID | None = Field(
        None, description="The planned series this session is a stage of (see /procedure-series)."
    )
    stage_number: int | None = Field(None, ge=1, le=20, description="k in 'stage k of n'.")
    levels: list[LevelIn] = Field(default_factory=list, max_length=30)

    @model_validator(mode="after")
    def _series_and_levels(self) -> Self:
        if (self.series_id is None) != (self.stage_number is None):
            raise ValueError("series_id and stage_number go together")
        if self.kind in AUGMENTATION_KINDS and not self.levels:
            raise ValueError(f"a {self.kind} treats at least one level")
        if self.kind not in AUGMENTATION_KINDS:
            for lv in self.levels:
                if lv.cement_volume_ml is not None or lv.leakage is not None:
                    raise ValueError(f"cement is recorded for augmentation, not {self.kind}")
        return self

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "patient_id": "0195f3a4-6a8e-7c1e-9d7b-2f4f5b6c7d8e",
                    "kind": "vertebroplasty",
                    "performed_at": "2019-02-12T09:30:00Z",
                    "indication": "pain_palliation",
                    "anesthesia": "general",
                    "guidance": "biplanar_fluoroscopy",
                    "operator": "IR attending",
                    "duration_min": 45,
                    "tumour_board_reviewed": True,
                    "tumour_board_date": "2019-02-05",
                    "work_up": {
                        "consent_obtained": True,
                        "last_imaging_date": "2019-01-20",
                        "last_imaging_modality": "mri",
                        "platelet_count": 180,
                        "inr": 1.1,
                    },
                    "levels": [
                        {
                            "level": "T7",
                            "approach": "costotransverse",
                            "needle_gauge": 13,
                            "cement_volume_ml": 2.5,
                            "leakage": "none",
                        },
                        {
                            "level": "T12",
                            "approach": "costotransverse",
                            "needle_gauge": 13,
                            "cement_volume_ml": 3.0,
                            "leakage": "none",
                        },
                    ],
                }
            ]
        }
    }


class ProcedureUpdate(InputModel):
    """Only the fields sent are changed; `work_up`, when sent, replaces the whole work-up."""

    kind: ProcedureKind | None = None
    performed_at: PastDatetime | None = None
    indication: Indication | None = None
    target_pain_site: TargetPainSite | None = None
    anesthesia: Anesthesia | None = None
    guidance: Guidance | None = None
    operator: str | None = Field(None, max_length=120)
    duration_min: int | None = Field(None, ge=1, le=720)
    tumour_board_reviewed: bool | None = None
    tumour_board_date: PastDate | None = None
    work_up: WorkUp | None = None
    radiation_dose_cgy: float | None = Field(None, gt=0, le=10000)
    radiation_fractions: int | None = Field(None, ge=1, le=60)
    notes: str | None = Field(None, max_length=4000)

    model_config = {
        "json_schema_extra": {"examples": [{"duration_min": 50, "work_up": {"inr": 1.2}}]}
    }


class CriterionRead(ReadModel):
    name: str
    result: str
    detail: str


class EligibilityRead(ReadModel):
    result: str = Field(description="eligible, not_eligible or incomplete")
    criteria: list[CriterionRead]


class ProcedureRead(ReadModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    kind: ProcedureKind
    performed_at: datetime
    series_id: uuid.UUID | None
    stage_number: int | None
    planned_sessions: int | None
    indication: Indication | None
    target_pain_site: TargetPainSite
    anesthesia: Anesthesia | None
    guidance: Guidance | None
    operator: str | None
    duration_min: int | None
    tumour_board_reviewed: bool | None
    tumour_board_date: date | None
    work_up: WorkUp
    eligibility: EligibilityRead
    radiation_dose_cgy: float | None
    radiation_fractions: int | None
    notes: str | None
    levels: list[LevelRead]
    created_at: datetime
    updated_at: datetime
    version: int


class SeriesCreate(InputModel):
    patient_id: uuid.UUID
    planned_sessions: int = Field(ge=2, le=20)
    label: str | None = Field(None, max_length=200)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "patient_id": "0195f3a4-6a8e-7c1e-9d7b-2f4f5b6c7d8e",
                    "planned_sessions": 2,
                    "label": "8 levels in two stages",
                }
            ]
        }
    }


class SeriesRead(ReadModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    planned_sessions: int
    label: str | None
    procedure_ids: list[uuid.UUID] = Field(default_factory=list)
