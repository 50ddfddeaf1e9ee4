"""The `data` of each event type, one model per type (the envelope is app.ingestion.schemas).

They carry the same fields, types and bounds as the REST request models they map onto (a test
compares their JSON schemas).
"""

from typing import Annotated, Any, Literal, Self

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from app.clinical.enums import (
    ImagingModality,
    Indication,
    PainScale,
    PainSite,
    PerformanceScale,
)
from app.common.schemas import InputModel
from app.complications.schemas import ComplicationGrading
from app.follow_up.schemas import MedicationFields
from app.patients.schemas import IdentifierIn, PatientFields
from app.procedures.schemas import LevelIn, ProcedureDetails

ProcedureRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="The sending system's own reference of the procedure (e.g. its order or "
        "case number). A follow-up may name a procedure that has not arrived yet: it is "
        "linked when the procedure arrives.",
        examples=["OR-2019-0212-07"],
    ),
]
Note = Annotated[str | None, Field(None, max_length=4000)]


class PatientData(PatientFields):
    """Demographics and diagnosis; `identifiers` adds identifiers besides the envelope's."""

    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=20)

    @model_serializer(mode="wrap")
    def _unsent_group_left_out(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The event log keeps each event's hash (app.ingestion.mappers.fingerprint), taken
        over this dump: a registration logged before histology_group existed, sent again, must
        hash as it did then (a replay, not a conflict). Unsent, the field is simply absent."""
        dumped: dict[str, Any] = handler(self)
        if "histology_group" not in self.model_fields_set:
            dumped.pop("histology_group", None)
        return dumped


class SeriesRef(InputModel):
    """The staged series a session belongs to, named by the sender (paper case 3: four levels,
    then four more a week later, one episode counted from the last session)."""

    series_ref: str = Field(
        min_length=1,
        max_length=200,
        description="The sending system's id of the planned series: the same on every stage.",
        examples=["SERIES-2019-0305"],
    )
    stage: int = Field(ge=1, le=20, description="k in 'stage k of n'.")
    planned_sessions: int = Field(ge=2, le=20, description="n: the sessions planned.")
    label: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _stage_in_plan(self) -> Self:
        if self.stage > self.planned_sessions:
            raise ValueError(f"stage {self.stage} of a series planned in {self.planned_sessions}")
        return self


class ProcedureData(ProcedureDetails):
    procedure_ref: ProcedureRef
    levels: list[LevelIn] = Field(default_factory=list, max_length=30)
    series: SeriesRef | None = Field(
        None, description="Set when the session is a stage of a planned series."
    )

    @model_serializer(mode="wrap")
    def _unsent_series_left_out(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Procedure events logged before `series` existed must hash as they did then (their
        replay is a replay, not a conflict): unsent, the field is absent from the dump."""
        dumped: dict[str, Any] = handler(self)
        if self.series is None and "series" not in self.model_fields_set:
            dumped.pop("series", None)
        return dumped


class FollowUpData(InputModel):
    procedure_ref: ProcedureRef | None = None
    note: Note = None


class PainData(FollowUpData):
    scale: PainScale = PainScale.nrs11
    value: float = Field(
        description="As given on the scale: 0-10, VAS 0-100 mm, FPS-R and Wong-Baker even steps."
    )
    site: PainSite = Field(PainSite.back, description="back (axial), leg (radicular) or other.")


class MedicationData(FollowUpData, MedicationFields):
    pass


class PerformanceData(FollowUpData):
    scale: PerformanceScale = Field(description="Lansky under 16 years, Karnofsky from 16.")
    value: int = Field(description="0-100 in steps of 10.")


class FunctionData(FollowUpData):
    scale: Literal["odi"] = "odi"
    value: float = Field(ge=0, le=100, description="Oswestry Disability Index, 0-100.")


class ImagingData(FollowUpData):
    modality: ImagingModality
    finding: str | None = Field(None, max_length=4000)


class ProgressionData(FollowUpData):
    finding: str | None = Field(None, max_length=4000, description="Where the disease progressed.")


class DeathData(InputModel):
    note: Note = None


class ComplicationData(ComplicationGrading):
    procedure_ref: ProcedureRef = Field(
        description="The procedure it complicates; if it has not arrived yet, the complication "
        "is kept pending and recorded when it arrives."
    )
    level: str | None = Field(
        None, min_length=2, max_length=3, description="The treated level it concerns, e.g. T7."
    )


LOCAL_INTERVENTIONS = frozenset(
    {"radiotherapy", "cryoablation", "surgery", "radiofrequency_ablation"}
)
Intervention = Literal[
    "radiotherapy",
    "chemotherapy",
    "cryoablation",
    "surgery",
    "radiofrequency_ablation",
    "immunotherapy",
    "other",
]


class InterventionData(InputModel):
    """A local intervention with `levels` becomes a procedure of that kind; anything else
    (systemic therapy, or a course given without levels) a follow-up `treatment` event."""

    intervention: Intervention
    procedure_ref: ProcedureRef | None = None
    levels: list[LevelIn] = Field(default_factory=list, max_length=30)
    indication: Indication | None = None
    operator: str | None = Field(None, max_length=120)
    duration_min: int | None = Field(None, ge=1, le=720)
    radiation_dose_cgy: float | None = Field(None, gt=0, le=10000)
    radiation_fractions: int | None = Field(None, ge=1, le=60)
    description: str | None = Field(None, max_length=4000)

    @model_validator(mode="after")
    def _local_or_systemic(self) -> Self:
        if self.levels and self.intervention not in LOCAL_INTERVENTIONS:
            raise ValueError(f"{self.intervention} is systemic: it has no vertebral levels")
        if self.intervention != "radiotherapy" and (
            self.radiation_dose_cgy is not None or self.radiation_fractions is not None
        ):
            raise ValueError("radiation_dose_cgy and radiation_fractions are for radiotherapy")
        return self


class RetractionData(InputModel):
    event_id: str = Field(
        min_length=1,
        max_length=200,
        description="The `event_id` (same source) of the event to undo.",
        examples=["evt-000120"],
    )
    reason: str | None = Field(None, max_length=4000)
