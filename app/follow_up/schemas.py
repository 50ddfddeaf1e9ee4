"""Follow-up events: one request shape per kind, told apart by `kind`."""

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import Field, computed_field, model_validator

from app.clinical.enums import (
    DoseUnit,
    ImagingModality,
    MedicationStatus,
    PainScale,
    PainSite,
    PerformanceScale,
    Route,
    TreatmentType,
)
from app.common.schemas import InputModel, PastDatetime, ReadModel
from app.follow_up.opioids import rxnorm_code

EXAMPLE_PATIENT = "0195f3a4-6a8e-7c1e-9d7b-2f4f5b6c7d8e"


class FollowUpBase(InputModel):
    patient_id: uuid.UUID
    procedure_id: uuid.UUID | None = Field(
        None, description="The procedure this observation follows, when the sender knows it."
    )
    occurred_at: PastDatetime = Field(description="When it was observed (timezone required).")
    note: str | None = Field(None, max_length=4000)


class PainIn(FollowUpBase):
    kind: Literal["pain"]
    scale: PainScale = PainScale.nrs11
    value: float = Field(
        description="As given on the scale: 0-10, VAS 0-100 mm, FPS-R and Wong-Baker even steps."
    )
    site: PainSite = Field(PainSite.back, description="back (axial), leg (radicular) or other.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "pain",
                    "patient_id": EXAMPLE_PATIENT,
                    "occurred_at": "2019-02-19T10:00:00Z",
                    "scale": "nrs11",
                    "value": 5,
                    "site": "back",
                }
            ]
        }
    }


class MedicationFields(InputModel):
    """The medication fields shared by the REST API and ingested events."""

    drug: str = Field(min_length=1, max_length=60, examples=["morphine"])
    dose: float | None = Field(None, ge=0, le=100000)
    dose_unit: DoseUnit | None = None
    route: Route | None = None
    doses_per_day: float | None = Field(
        None, gt=0, le=48, description="For intermittent dosing; omit for mg/h or mcg/h."
    )
    status: MedicationStatus = MedicationStatus.active
    weight_kg: float | None = Field(None, gt=0, le=300, description="For OME mg/kg/day.")
    is_opioid: bool | None = Field(
        None, description="Only for drugs outside the OME factor table; known drugs are classed."
    )


class MedicationIn(FollowUpBase, MedicationFields):
    """A medication as taken from `occurred_at` on; `status: stopped` records that it ended."""

    kind: Literal["medication"]

    @model_validator(mode="after")
    def _dosing(self) -> Self:
        if self.dose is not None and self.dose_unit is None:
            raise ValueError("dose_unit is required with dose")
        if self.dose_unit in (DoseUnit.mg_per_h, DoseUnit.mcg_per_h) and self.doses_per_day:
            raise ValueError("doses_per_day does not apply to a continuous rate (mg/h, mcg/h)")
        return self

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "medication",
                    "patient_id": EXAMPLE_PATIENT,
                    "occurred_at": "2019-02-19T10:00:00Z",
                    "drug": "morphine",
                    "dose": 10,
                    "dose_unit": "mg",
                    "route": "oral",
                    "doses_per_day": 2,
                    "weight_kg": 52,
                }
            ]
        }
    }


class PerformanceIn(FollowUpBase):
    kind: Literal["performance"]
    scale: PerformanceScale = Field(description="Lansky under 16 years, Karnofsky from 16.")
    value: int = Field(description="0-100 in steps of 10.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "performance",
                    "patient_id": EXAMPLE_PATIENT,
                    "occurred_at": "2019-03-05T10:00:00Z",
                    "scale": "lansky",
                    "value": 100,
                }
            ]
        }
    }


class FunctionIn(FollowUpBase):
    kind: Literal["function"]
    scale: Literal["odi"] = "odi"
    value: float = Field(ge=0, le=100, description="Oswestry Disability Index, 0-100.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "function",
                    "patient_id": EXAMPLE_PATIENT,
                    "occurred_at": "2019-03-05T10:00:00Z",
                    "value": 28,
                }
            ]
        }
    }


class ImagingIn(FollowUpBase):
    kind: Literal["imaging"]
    modality: ImagingModality
    finding: str | None = Field(None, max_length=4000)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "imaging",
                    "patient_id": EXAMPLE_PATIENT,
                    "occurred_at": "2019-05-12T10:00:00Z",
                    "modality": "mri",
                    "finding": "Progression in the pelvis; treated vertebrae stable.",
                }
            ]
        }
    }


class ProgressionIn(FollowUpBase):
    kind: Literal["progression"]
    finding: str | None = Field(None, max_length=4000, description="Where the disease progressed.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "progression",
                    "patient_id": EXAMPLE_PATIENT,
                    "occurred_at": "2019-05-12T10:00:00Z",
                    "finding": "pelvis",
                }
            ]
        }
    }


class TreatmentIn(FollowUpBase):
    """Systemic or other treatment given during follow-up (local interventions are procedures)."""

    kind: Literal["treatment"]
    treatment_type: TreatmentType
    finding: str | None = Field(None, max_length=4000, description="What was given.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "treatment",
                    "patient_id": EXAMPLE_PATIENT,
                    "occurred_at": "2019-02-20T10:00:00Z",
                    "treatment_type": "chemotherapy",
                    "finding": "palliative chemotherapy continued",
                }
            ]
        }
    }


class DeathIn(FollowUpBase):
    kind: Literal["death"]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "death",
                    "patient_id": EXAMPLE_PATIENT,
                    "occurred_at": "2019-09-20T03:00:00Z",
                    "note": "pulmonary metastatic disease",
                }
            ]
        }
    }


FollowUpCreate = Annotated[
    PainIn
    | MedicationIn
    | PerformanceIn
    | FunctionIn
    | ImagingIn
    | ProgressionIn
    | TreatmentIn
    | DeathIn,
    Field(discriminator="kind"),
]


class FollowUpRead(ReadModel):
    """Every kind in one shape; fields that do not apply to a kind are null."""

    id: uuid.UUID
    patient_id: uuid.UUID
    procedure_id: uuid.UUID | None
    kind: str
    occurred_at: datetime
    note: str | None
    scale: str | None = None
    value: float | None = None
    score: float | None = Field(None, description="Pain normalised to 0-10; PS and ODI 0-100.")
    site: str | None = None
    drug: str | None = None
    dose: float | None = None
    dose_unit: str | None = None
    route: str | None = None
    doses_per_day: float | None = None
    medication_status: str | None = None
    is_opioid: bool | None = None
    weight_kg: float | None = None
    ome_mg_day: float | None = Field(None, description="Oral morphine equivalent, mg/day.")
    ome_mg_kg_day: float | None = None
    ome_factors_version: str | None = None
    modality: str | None = None
    treatment_type: str | None = None
    finding: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int

    @computed_field(  # type: ignore[prop-decorator]
        description="The drug's RxNorm ingredient code (system "
        "http://www.nlm.nih.gov/research/umls/rxnorm), derived from `drug` where the code "
        "is verified (clinical-rules.md section 4); null otherwise."
    )
    @property
    def drug_rxnorm(self) -> str | None:
        return rxnorm_code(self.drug)
