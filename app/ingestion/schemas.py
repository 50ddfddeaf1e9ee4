"""Events as hospital integration engines send them: an envelope plus type-specific `data`
(app.ingestion.data), and what the API answers.

Every event is validated again through the REST model and the REST service, so an event is
refused exactly when the API would refuse it.
"""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from app.common.schemas import InputModel, PastDatetime
from app.errors import Problem
from app.ingestion.data import (
    ComplicationData,
    DeathData,
    FunctionData,
    ImagingData,
    InterventionData,
    MedicationData,
    PainData,
    PatientData,
    PerformanceData,
    ProcedureData,
    ProgressionData,
    RetractionData,
)


class PatientRef(InputModel):
    """The patient as the sender identifies them. An unknown identifier creates the patient."""

    system: str = Field(min_length=1, max_length=200, examples=["urn:example:bcch:mrn"])
    value: str = Field(min_length=1, max_length=200, examples=["MRN-0042"])


class EventEnvelope(InputModel):
    source: str = Field(
        min_length=1,
        max_length=120,
        description="The sending system; `event_id` is unique within it.",
        examples=["urn:example:bcch:epic"],
    )
    event_id: str = Field(
        min_length=1,
        max_length=200,
        description="The idempotency key within `source`: the same event sent again is "
        "answered with the original result and changes nothing.",
        examples=["evt-000123"],
    )
    occurred_at: PastDatetime = Field(
        description="When it happened (timezone required). Derived values use this, never "
        "the arrival order."
    )
    patient: PatientRef


# --- the event types ------------------------------------------------------------------------
EXAMPLE: dict[str, Any] = {
    "source": "urn:example:bcch:epic",
    "event_id": "evt-000123",
    "occurred_at": "2019-02-19T10:00:00Z",
    "patient": {"system": "urn:example:bcch:mrn", "value": "MRN-0042"},
}


# the per-type examples tell one story when posted in the order of Event (one MRN, one
# procedure reference, an event id each): tests/ingestion/test_docs_examples.py posts them
_EXAMPLE_ENVELOPES: dict[str, tuple[str, str]] = {
    "patient.registered": ("evt-000101", "2019-02-11T08:00:00Z"),
    "procedure.performed": ("evt-000102", "2019-02-12T09:30:00Z"),
    "pain.scored": ("evt-000103", "2019-02-19T10:00:00Z"),
    "medication.recorded": ("evt-000104", "2019-02-19T10:00:00Z"),
    "performance.scored": ("evt-000105", "2019-02-19T10:00:00Z"),
    "function.scored": ("evt-000106", "2019-02-19T10:00:00Z"),
    "imaging.performed": ("evt-000107", "2019-02-19T10:00:00Z"),
    "progression.recorded": ("evt-000108", "2019-02-19T10:00:00Z"),
    "complication.reported": ("evt-000109", "2019-02-12T10:00:00Z"),
    "intervention.recorded": ("evt-000110", "2019-02-20T09:00:00Z"),
    "patient.deceased": ("evt-000111", "2019-09-30T10:00:00Z"),
    "event.retracted": ("evt-000112", "2019-02-21T10:00:00Z"),
}


def _example(type_: str, data: dict[str, Any]) -> ConfigDict:
    event_id, at = _EXAMPLE_ENVELOPES[type_]
    envelope = {**EXAMPLE, "event_id": event_id, "occurred_at": at}
    return ConfigDict(json_schema_extra={"examples": [{**envelope, "type": type_, "data": data}]})


class PatientRegistered(EventEnvelope):
    """Creates the patient, or (when an earlier event created them) sets what it carries."""

    type: Literal["patient.registered"]
    data: PatientData = Field(default_factory=PatientData)

    model_config = _example(
        "patient.registered",
        {
            "birth_date": "2005-03-14",
            "sex": "female",
            "histology": "alveolar rhabdomyosarcoma",
            "histology_group": "IX",
        },
    )


class ProcedurePerformed(EventEnvelope):
    """A procedure session with its levels and work-up; `occurred_at` is when it was done."""

    type: Literal["procedure.performed"]
    data: ProcedureData

    model_config = _example(
        "procedure.performed",
        {
            "procedure_ref": "OR-2019-0212-07",
            "kind": "vertebroplasty",
            "indication": "pain_palliation",
            "anesthesia": "general",
            "guidance": "biplanar_fluoroscopy",
            "work_up": {"consent_obtained": True, "platelet_count": 180, "inr": 1.1},
            "levels": [
                {"level": "T7", "approach": "costotransverse", "needle_gauge": 13},
                {"level": "T12", "approach": "costotransverse", "needle_gauge": 13},
            ],
        },
    )


class PainScored(EventEnvelope):
    type: Literal["pain.scored"]
    data: PainData

    model_config = _example(
        "pain.scored",
        {"scale": "nrs11", "value": 5, "site": "back", "procedure_ref": "OR-2019-0212-07"},
    )


class MedicationRecorded(EventEnvelope):
    type: Literal["medication.recorded"]
    data: MedicationData

    model_config = _example(
        "medication.recorded",
        {"drug": "morphine", "dose": 10, "dose_unit": "mg", "route": "oral", "doses_per_day": 2},
    )


class PerformanceScored(EventEnvelope):
    type: Literal["performance.scored"]
    data: PerformanceData

    model_config = _example("performance.scored", {"scale": "lansky", "value": 70})


class FunctionScored(EventEnvelope):
    type: Literal["function.scored"]
    data: FunctionData

    model_config = _example("function.scored", {"scale": "odi", "value": 28})


class ImagingPerformed(EventEnvelope):
    type: Literal["imaging.performed"]
    data: ImagingData

    model_config = _example("imaging.performed", {"modality": "mri", "finding": "stable"})


class ProgressionRecorded(EventEnvelope):
    type: Literal["progression.recorded"]
    data: ProgressionData

    model_config = _example("progression.recorded", {"finding": "pelvis"})


class ComplicationReported(EventEnvelope):
    type: Literal["complication.reported"]
    data: ComplicationData

    model_config = _example(
        "complication.reported",
        {
            "procedure_ref": "OR-2019-0212-07",
            "level": "T7",
            "kind": "cement_leakage",
            "symptomatic": False,
            "sir_classic": "A",
        },
    )


class InterventionRecorded(EventEnvelope):
    type: Literal["intervention.recorded"]
    data: InterventionData

    model_config = _example(
        "intervention.recorded",
        {
            "intervention": "radiotherapy",
            "procedure_ref": "RT-2019-33",
            "levels": [{"level": "T5"}, {"level": "T6"}],
            "radiation_dose_cgy": 2000,
            "radiation_fractions": 4,
        },
    )


class PatientDeceased(EventEnvelope):
    type: Literal["patient.deceased"]
    data: DeathData = Field(default_factory=DeathData)

    model_config = _example("patient.deceased", {"note": "pulmonary metastatic disease"})


class EventRetracted(EventEnvelope):
    """Undoes an earlier event of the same source (see the README for what each type undoes)."""

    type: Literal["event.retracted"]
    data: RetractionData

    model_config = _example(
        "event.retracted", {"event_id": "evt-000107", "reason": "sent for the wrong patient"}
    )


Event = Annotated[
    PatientRegistered
    | ProcedurePerformed
    | PainScored
    | MedicationRecorded
    | PerformanceScored
    | FunctionScored
    | ImagingPerformed
    | ProgressionRecorded
    | ComplicationReported
    | InterventionRecorded
    | PatientDeceased
    | EventRetracted,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[str, ...] = (
    "patient.registered",
    "procedure.performed",
    "pain.scored",
    "medication.recorded",
    "performance.scored",
    "function.scored",
    "imaging.performed",
    "progression.recorded",
    "complication.reported",
    "intervention.recorded",
    "patient.deceased",
    "event.retracted",
)


class EventBatch(InputModel):
    events: list[Event] = Field(
        min_length=1,
        description="Up to INGEST_BATCH_MAX_EVENTS (default 1000) events; each is accepted or "
        "refused on its own.",
    )


# The request body as documented. It is validated event by event in the service, so one bad
# event in a batch does not refuse the others (hence SkipValidation here).
EventsBody = SkipValidation[Event | EventBatch]


# --- results --------------------------------------------------------------------------------
ItemStatus = Literal["created", "replayed", "rejected"]
EventStatus = Literal["applied", "pending", "retracted", "failed"]
LoggedStatus = Literal["applied", "pending", "retracted", "failed", "rejected"]


class EventIds(BaseModel):
    """What the event produced (absent when it produced nothing of that kind)."""

    patient_id: uuid.UUID | None = None
    procedure_id: uuid.UUID | None = None
    level_ids: list[uuid.UUID] | None = None
    follow_up_id: uuid.UUID | None = None
    complication_id: uuid.UUID | None = None
    retracted_event_id: str | None = None


class EventWarning(BaseModel):
    """Something an accepted event leaves incomplete (app.ingestion.warnings)."""

    code: str = Field(examples=["awaiting-procedure"])
    message: str
    field: str | None = Field(None, description="The event field it is about.")


class EventResult(BaseModel):
    index: int | None = Field(None, description="The event's position in the batch.")
    source: str | None = None
    event_id: str | None = None
    type: str | None = None
    status: ItemStatus = Field(
        description="created: accepted now; replayed: this (source, event_id) was accepted "
        "before with the same payload, and this is that result; rejected: nothing was stored."
    )
    event_status: EventStatus | None = Field(
        None,
        description="applied; pending (a complication waiting for its procedure); retracted; "
        "failed (a pending complication that could not be applied when its procedure came).",
    )
    ids: EventIds | None = None
    problem: Problem | None = Field(None, description="Why the event was rejected.")
    warnings: list[EventWarning] = Field(
        default_factory=list, description="What the accepted event leaves incomplete."
    )

    @property
    def http_status(self) -> int:
        """The status of this result answered alone (not rejected)."""
        if self.status == "replayed":
            return 200
        return 202 if self.event_status == "pending" else 201

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "source": "urn:example:bcch:epic",
                    "event_id": "evt-000123",
                    "type": "pain.scored",
                    "status": "created",
                    "event_status": "applied",
                    "ids": {
                        "patient_id": "0195f3a4-6a8e-7c1e-9d7b-2f4f5b6c7d8e",
                        "follow_up_id": "0195f3a4-7000-7c1e-9d7b-2f4f5b6c7d8f",
                    },
                }
            ]
        }
    }


class BatchResult(BaseModel):
    created: int
    replayed: int
    rejected: int
    results: list[EventResult] = Field(description="One per event, in the order sent.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "created": 1,
                    "replayed": 1,
                    "rejected": 1,
                    "results": [
                        {
                            "index": 0,
                            "source": "urn:example:bcch:epic",
                            "event_id": "evt-000123",
                            "type": "pain.scored",
                            "status": "created",
                            "event_status": "applied",
                            "ids": {"follow_up_id": "0195f3a4-7000-7c1e-9d7b-2f4f5b6c7d8f"},
                        },
                        {
                            "index": 1,
                            "source": "urn:example:bcch:epic",
                            "event_id": "evt-000122",
                            "type": "pain.scored",
                            "status": "replayed",
                            "event_status": "applied",
                            "ids": {"follow_up_id": "0195f3a4-6fff-7c1e-9d7b-2f4f5b6c7d8a"},
                        },
                        {
                            "index": 2,
                            "source": "urn:example:bcch:epic",
                            "event_id": "evt-000124",
                            "status": "rejected",
                            "problem": {
                                "type": "/problems/score-out-of-range",
                                "title": "Unprocessable Entity",
                                "status": 422,
                                "detail": "nrs11 is 0-10; got 11.",
                                "errors": [
                                    {"field": "data.value", "message": "nrs11 is 0-10; got 11."}
                                ],
                            },
                        },
                    ],
                }
            ]
        }
    }


class LoggedEvent(BaseModel):
    """An event as the registry logged it, and what became of it (GET /events)."""

    id: uuid.UUID = Field(description="The log row's id; pages are ordered by it (arrival).")
    source: str | None = Field(None, description="Absent on a rejection it could not be read.")
    event_id: str | None = Field(None, description="Absent on a rejection it could not be read.")
    type: str | None = Field(
        None, description="Absent on a placeholder: a retraction that arrived before its event."
    )
    occurred_at: datetime | None = None
    received_at: datetime
    updated_at: datetime
    status: LoggedStatus = Field(
        description="applied; pending (a complication waiting for its procedure); retracted; "
        "failed (a pending complication that could not be applied when its procedure came); "
        "rejected (refused: nothing was stored; `problem` says why)."
    )
    awaiting_procedure: bool = Field(
        description="Its procedure_ref names a procedure the registry has not received yet."
    )
    retracted_by: str | None = Field(None, description="The event_id of its retraction.")
    ids: EventIds = Field(description="What the event produced, as its result said.")
    problem: Problem | None = Field(
        None, description="Why the event was rejected, or why a pending complication failed."
    )
    warnings: list[EventWarning] = Field(
        default_factory=list, description="What the accepted event leaves incomplete."
    )
    payload: dict[str, Any] | None = Field(
        None, description="The event as received (absent on a placeholder)."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "0195f3a4-7001-7c1e-9d7b-2f4f5b6c7d90",
                    "source": "urn:example:bcch:epic",
                    "event_id": "evt-000123",
                    "type": "pain.scored",
                    "occurred_at": "2019-02-19T10:00:00Z",
                    "received_at": "2019-02-19T10:00:02Z",
                    "updated_at": "2019-02-19T10:00:02Z",
                    "status": "applied",
                    "awaiting_procedure": True,
                    "ids": {
                        "patient_id": "0195f3a4-6a8e-7c1e-9d7b-2f4f5b6c7d8e",
                        "follow_up_id": "0195f3a4-7000-7c1e-9d7b-2f4f5b6c7d8f",
                    },
                    "payload": {
                        **EXAMPLE,
                        "type": "pain.scored",
                        "data": {"scale": "nrs11", "value": 5, "procedure_ref": "OR-7"},
                    },
                }
            ]
        }
    }
