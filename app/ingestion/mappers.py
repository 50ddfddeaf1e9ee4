"""Event -> domain command: what each event type becomes in the REST API's own request models.

An event is parsed into an `Incoming` (the form the JSON door and the FHIR door share); its
effect is built by validating the REST request model (`PainIn`, `ProcedureCreate`, ...) and
calling the REST service, so it gets exactly the API's validation. Errors name the event's
fields (`data.value`, `occurred_at`, `patient`), not the REST model's.
"""

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from app.clinical.enums import TreatmentType
from app.complications.schemas import ComplicationCreate
from app.errors import DomainError, FieldIssue, validation_issues
from app.follow_up.schemas import FollowUpCreate
from app.ingestion.data import LOCAL_INTERVENTIONS, InterventionData, PatientData
from app.ingestion.schemas import EVENT_TYPES, Event
from app.patients.schemas import PatientCreate, PatientUpdate
from app.procedures.schemas import ProcedureCreate

M = TypeVar("M", bound=BaseModel)
PatientKey = tuple[str, str]  # (identifier system, value)
ProcedureKey = tuple[str, str]  # (system of the sender, the sender's procedure reference)

# Identifiers the registry itself gives (used by the FHIR export so a bundle can come back).
PATIENT_SYSTEM = "urn:vertebro:patient"
PROCEDURE_SYSTEM = "urn:vertebro:procedure"

FOLLOW_UP_KIND = {
    "pain.scored": "pain",
    "medication.recorded": "medication",
    "performance.scored": "performance",
    "function.scored": "function",
    "imaging.performed": "imaging",
    "progression.recorded": "progression",
    "patient.deceased": "death",
}
PROCEDURE_TYPES = frozenset({"procedure.performed", "intervention.recorded"})


class InvalidEvent(DomainError):
    """An event refused before anything was stored."""

    def __init__(
        self, detail: str, errors: Sequence[FieldIssue], code: str = "validation-error"
    ) -> None:
        super().__init__(detail, code, 422, tuple(errors))


@dataclass
class Incoming:
    """One event, whichever door it came through, ready to be logged and applied."""

    source: str
    event_id: str
    type: str
    occurred_at: datetime
    patient: PatientKey
    data: BaseModel
    payload: dict[str, Any]  # as received (the event, or the FHIR resource)
    procedure_key: ProcedureKey | None = None  # referred to, or defined by this event
    # the sender's identifiers of the record the event makes (the FHIR door's resources)
    identifiers: tuple[tuple[str, str], ...] = ()
    # occurred_at is the time of arrival (a FHIR Patient has no time of its own): not meaning
    arrival_time: bool = False
    fingerprint: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.fingerprint = fingerprint(self)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.event_id)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(ev: Incoming) -> str:
    """sha256 of the event's meaning: the same event sent with other key order, whitespace,
    time zone offset or omitted defaults hashes the same; so does the same resource sent twice
    at once (its arrival time is no part of it)."""
    canonical: dict[str, Any] = {
        "type": ev.type,
        "occurred_at": None if ev.arrival_time else ev.occurred_at.isoformat(),
        "patient": list(ev.patient),
        "data": ev.data.model_dump(mode="json"),
        "procedure": list(ev.procedure_key) if ev.procedure_key else None,
    }
    if ev.identifiers:  # absent from the JSON door's events: their stored hashes still match
        canonical["identifiers"] = [list(i) for i in ev.identifiers]
    return hashlib.sha256(canonical_json(canonical).encode()).hexdigest()


# --- parsing --------------------------------------------------------------------------------
_event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def _event_location(loc: Sequence[Any]) -> tuple[Any, ...]:
    """Drop the union tag pydantic puts first: ('pain.scored', 'data', 'value') -> data.value."""
    parts = tuple(loc)
    return parts[1:] if parts and parts[0] in EVENT_TYPES else parts


def parse_event(raw: object) -> Incoming:
    """Validate one event of the JSON door; raises InvalidEvent naming the fields."""
    if not isinstance(raw, dict):
        raise InvalidEvent(
            "An event is a JSON object with source, event_id, type, occurred_at, patient and data.",
            [FieldIssue("body", "expected an object")],
        )
    try:
        event = _event_adapter.validate_python(raw)
    except ValidationError as exc:
        raise _invalid(exc.errors()) from None
    data = event.data
    ref = getattr(data, "procedure_ref", None)
    return Incoming(
        source=event.source,
        event_id=event.event_id,
        type=event.type,
        occurred_at=event.occurred_at,
        patient=(event.patient.system, event.patient.value),
        data=data,
        payload=raw,
        procedure_key=(event.source, ref) if ref else None,
    )


def _invalid(errors: Sequence[Any]) -> InvalidEvent:
    tag_errors = [
        e for e in errors if e.get("type") in ("union_tag_invalid", "union_tag_not_found")
    ]
    if tag_errors:
        allowed = ", ".join(EVENT_TYPES)
        missing = tag_errors[0].get("type") == "union_tag_not_found"
        message = "Field required" if missing else f"unknown event type; use one of: {allowed}"
        return InvalidEvent(
            "The event has no type." if missing else "Unknown event type.",
            [FieldIssue("type", message)],
            "missing-type" if missing else "unknown-type",
        )
    issues = validation_issues([{**e, "loc": _event_location(e.get("loc", ()))} for e in errors])
    fields = ", ".join(sorted({i.field for i in issues}))
    return InvalidEvent(f"Invalid event: {fields}.", issues)


# --- REST field names -> event field names --------------------------------------------------
_TOP_LEVEL = {
    "patient_id": "patient",
    "procedure_id": "data.procedure_ref",
    "occurred_at": "occurred_at",
    "performed_at": "occurred_at",
    "level_id": "data.level",
    "body": "data",
    "retracted_event_id": "data.event_id",
}


def event_field(rest_field: str, overrides: Mapping[str, str] | None = None) -> str:
    head, _, rest = rest_field.partition(".")
    table = {**_TOP_LEVEL, **(overrides or {})}
    if head in table:
        return table[head] + ("." + rest if rest else "")
    return "data." + rest_field


def event_error(exc: DomainError) -> DomainError:
    """A service's error in the event's terms (errors raised here already are)."""
    return exc if isinstance(exc, InvalidEvent) else remap(exc)


def remap(exc: DomainError, overrides: Mapping[str, str] | None = None) -> DomainError:
    """The same error, with the REST model's field names replaced by the event's."""
    errors = tuple(FieldIssue(event_field(e.field, overrides), e.message) for e in exc.errors)
    return DomainError(exc.detail, exc.code, exc.status, errors, exc.headers)


def _validate(
    model: type[M] | TypeAdapter[M], values: dict[str, Any], overrides: Mapping[str, str] | None
) -> M:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(values)
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [
            {**e, "loc": tuple(p for p in e.get("loc", ()) if p not in _FOLLOW_UP_TAGS)}
            for e in exc.errors()
        ]
        issues = [
            FieldIssue(event_field(i.field, overrides), i.message)
            for i in validation_issues(errors)
        ]
        fields = ", ".join(sorted({i.field for i in issues}))
        raise InvalidEvent(f"Invalid event: {fields}.", issues) from None


# --- commands -------------------------------------------------------------------------------
_follow_up_adapter: TypeAdapter[FollowUpCreate] = TypeAdapter(FollowUpCreate)
_FOLLOW_UP_TAGS = frozenset(
    {
        "pain",
        "medication",
        "performance",
        "function",
        "imaging",
        "progression",
        "treatment",
        "death",
    }
)
_INTERVENTION_FIELDS = {"description": "data.description", "notes": "data.description"}


def follow_up_command(
    ev: Incoming, patient_id: uuid.UUID, procedure_id: uuid.UUID | None
) -> FollowUpCreate:
    values = ev.data.model_dump(exclude={"procedure_ref"})
    values.update(
        kind=FOLLOW_UP_KIND[ev.type],
        patient_id=patient_id,
        procedure_id=procedure_id,
        occurred_at=ev.occurred_at,
    )
    return _validate(_follow_up_adapter, values, None)


def treatment_command(
    ev: Incoming, patient_id: uuid.UUID, procedure_id: uuid.UUID | None
) -> FollowUpCreate:
    """A systemic intervention, or one given without levels: a follow-up `treatment`."""
    data = ev.data
    assert isinstance(data, InterventionData)
    known = {t.value for t in TreatmentType}
    parts: list[str] = [] if data.intervention in known else [data.intervention]
    if data.radiation_dose_cgy is not None:
        fractions = f" in {data.radiation_fractions} fractions" if data.radiation_fractions else ""
        parts.append(f"{data.radiation_dose_cgy:g} cGy{fractions}")
    if data.description:
        parts.append(data.description)
    values = {
        "kind": "treatment",
        "patient_id": patient_id,
        "procedure_id": procedure_id,
        "occurred_at": ev.occurred_at,
        "treatment_type": data.intervention if data.intervention in known else "other",
        "finding": "; ".join(parts)[:4000] or None,
    }
    return _validate(_follow_up_adapter, values, {"finding": "data.description"})


def is_local_intervention(ev: Incoming) -> bool:
    data = ev.data
    return (
        isinstance(data, InterventionData)
        and bool(data.levels)
        and data.intervention in LOCAL_INTERVENTIONS
    )


def procedure_command(ev: Incoming, patient_id: uuid.UUID) -> ProcedureCreate:
    data = ev.data
    if isinstance(data, InterventionData):
        values: dict[str, Any] = {
            "kind": data.intervention,
            "levels": [lv.model_dump() for lv in data.levels],
            "indication": data.indication,
            "operator": data.operator,
            "duration_min": data.duration_min,
            "radiation_dose_cgy": data.radiation_dose_cgy,
            "radiation_fractions": data.radiation_fractions,
            "notes": data.description,
        }
        overrides: Mapping[str, str] | None = _INTERVENTION_FIELDS
    else:
        values = data.model_dump(exclude={"procedure_ref", "series"})
        overrides = None
    values.update(patient_id=patient_id, performed_at=ev.occurred_at)
    return _validate(ProcedureCreate, values, overrides)


def complication_command(
    ev: Incoming, procedure_id: uuid.UUID, level_id: uuid.UUID | None
) -> ComplicationCreate:
    values = ev.data.model_dump(exclude={"procedure_ref", "level"})
    values.update(procedure_id=procedure_id, level_id=level_id)
    return _validate(ComplicationCreate, values, None)


def patient_create(ev: Incoming) -> PatientCreate:
    data = ev.data
    assert isinstance(data, PatientData)
    values = data.model_dump(exclude={"identifiers"})
    values["identifiers"] = _identifiers(ev, [])
    return _validate(PatientCreate, values, None)


def patient_update(ev: Incoming, existing: Sequence[PatientKey]) -> PatientUpdate:
    """The fields the event carries (omitted ones keep their value); identifiers are added."""
    data = ev.data
    assert isinstance(data, PatientData)
    values = data.model_dump(include=data.model_fields_set - {"identifiers"})
    if data.identifiers:
        values["identifiers"] = _identifiers(ev, existing)
    return _validate(PatientUpdate, values, None)


def _identifiers(ev: Incoming, existing: Sequence[PatientKey]) -> list[dict[str, str]]:
    data = ev.data
    assert isinstance(data, PatientData)
    keys = [*existing, ev.patient, *((i.system, i.value) for i in data.identifiers)]
    unique = list(dict.fromkeys(keys))
    return [{"system": s, "value": v} for s, v in unique]
