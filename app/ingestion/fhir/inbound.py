"""FHIR R4 resources (validated with fhir.resources, R4B models) -> the door's events.

Observation (pain, performance, function), Procedure (sessions with vertebral levels) and
Patient (identifiers, birth date, gender, death) become the same events as the JSON door's,
so they get the same validation, idempotency and out-of-order handling.
"""

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from pydantic import BaseModel, ValidationError

from app.common.nul import MESSAGE as NUL_MESSAGE
from app.common.nul import depth, nul_path
from app.common.schemas import in_utc
from app.errors import DomainError, FieldIssue
from app.ingestion.fhir.codes import (
    CPT,
    OBSERVATION_CODES,
    PROCEDURE_CPT,
    SNOMED,
    UCUM,
    URI_SYSTEM,
    VERTEBRA_BY_SNOMED,
)
from app.ingestion.identifiers import MAX_IDENTIFIERS, kept
from app.ingestion.mappers import (
    PATIENT_SYSTEM,
    PROCEDURE_SYSTEM,
    Incoming,
    PatientKey,
    ProcedureKey,
)
from app.ingestion.schemas import (
    DeathData,
    FunctionData,
    PainData,
    PatientData,
    PerformanceData,
    ProcedureData,
)
from app.models.enums import PainScale, PainSite, ProcedureKind
from app.procedures.levels import LEVEL_POSITION, VARIANT_LEVELS, normalise_level

M = TypeVar("M", bound=BaseModel)
MODELS: dict[str, type[BaseModel]] = {
    "Observation": Observation,
    "Procedure": Procedure,
    "Patient": Patient,
}
EVENT_TYPE = {
    "pain": "pain.scored",
    "performance": "performance.scored",
    "function": "function.scored",
}
_CONDITION = re.compile(r"identifier=(?P<system>[^|&]*)\|(?P<value>[^&]+)")
_LOCAL_ID = re.compile(r"^(?:.*/)?(?P<type>Patient|Procedure)/(?P<id>[0-9a-fA-F-]{36})$")


class FhirError(DomainError):
    """A resource the door cannot take; `errors` carry FHIRPath expressions."""

    def __init__(self, status: int, code: str, detail: str, expression: str) -> None:
        super().__init__(detail, code, status, (FieldIssue(expression, detail),))


@dataclass
class References:
    """What the entries of one Bundle call each other (fullUrl -> key)."""

    patients: dict[str, PatientKey] = field(default_factory=dict)
    procedures: dict[str, ProcedureKey] = field(default_factory=dict)


def parse_condition(value: str | None, where: str) -> tuple[str, str] | None:
    """If-None-Exist: only `identifier=system|value` is supported."""
    if value is None:
        return None
    text = value.strip().split("?", 1)[-1]
    match = _CONDITION.fullmatch(text)
    if match is None or not match["system"]:
        raise FhirError(
            400, "not-supported",
            "If-None-Exist supports one criterion, identifier=system|value.", where,
        )  # fmt: skip
    return unquote(match["system"]), unquote(match["value"])


MAX_DEPTH = 64  # FHIR resources nest a dozen levels; fhir.resources recurses per level


def screen(body: Mapping[str, Any], where: str) -> None:
    """A body nested deeper than MAX_DEPTH (its validation would exhaust Python's stack), or
    holding U+0000 anywhere (the database cannot store it): refused, located."""
    if depth(body) > MAX_DEPTH:
        raise FhirError(
            422, "too-costly", f"The {where} nests more than {MAX_DEPTH} levels deep.", where
        )
    path = nul_path(body)
    if path is not None:
        location = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        raise FhirError(422, "invalid", f"Text {NUL_MESSAGE}.", location)


def validate(resource: Mapping[str, Any], where: str) -> BaseModel:
    """The resource checked against the FHIR R4 (R4B) model of its type."""
    kind = resource.get("resourceType")
    model = MODELS.get(str(kind))
    if model is None:
        raise FhirError(
            422, "not-supported",
            f"resourceType {kind!r} is not accepted here; send Patient, Procedure or "
            "Observation.", f"{where}.resourceType",
        )  # fmt: skip
    try:
        return model.model_validate(dict(resource))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first.get("loc", ()) if p != "__root__")
        raise FhirError(
            422, "invalid", f"Invalid {kind}: {first.get('msg', 'invalid')}",
            f"{where}.{path}" if path else where,
        ) from None  # fmt: skip


def identifiers(resource: BaseModel) -> list[tuple[str, str]]:
    """The resource's identifiers that name something (system and value), each once."""
    found: dict[tuple[str, str], None] = {}
    for ident in getattr(resource, "identifier", None) or []:
        if ident.system and ident.value:
            found[(str(ident.system), str(ident.value))] = None
    return list(found)


def _senders_identifiers(resource: BaseModel, where: str) -> tuple[tuple[str, str], ...]:
    """The identifiers the registry keeps with the record (checked: size, count)."""
    found = identifiers(resource)
    if len(found) > MAX_IDENTIFIERS:
        raise FhirError(
            422, "too-costly", f"At most {MAX_IDENTIFIERS} identifiers.", f"{where}.identifier"
        )
    for i, ident in enumerate(found):
        _key_fits(ident, f"{where}.identifier[{i}]")
    return kept(found)


def patient_key(resource: Patient, full_url: str | None, where: str) -> PatientKey:
    ids = identifiers(resource)
    if ids:
        return ids[0]
    if full_url:
        return (URI_SYSTEM, full_url)
    raise FhirError(
        422, "required", "The registry keys patients by identifier: give one (system and value).",
        f"{where}.identifier",
    )  # fmt: skip


def procedure_key(resource: Procedure, full_url: str | None) -> ProcedureKey:
    ids = identifiers(resource)
    if ids:
        return ids[0]
    return (URI_SYSTEM, full_url or f"urn:uuid:{uuid.uuid4()}")


def references(entries: Sequence[tuple[str | None, BaseModel]], where: str) -> References:
    refs = References()
    for i, (full_url, resource) in enumerate(entries):
        if not full_url:
            continue
        if isinstance(resource, Patient):
            refs.patients[full_url] = patient_key(resource, full_url, f"{where}[{i}].resource")
        elif isinstance(resource, Procedure):
            refs.procedures[full_url] = procedure_key(resource, full_url)
    return refs


def _reference_to_patient(ref: Any, refs: References, where: str) -> PatientKey:
    if ref is None:
        raise FhirError(422, "required", "The subject (the patient) is required.", where)
    if ref.identifier is not None and ref.identifier.system and ref.identifier.value:
        return (str(ref.identifier.system), str(ref.identifier.value))
    reference = str(ref.reference or "")
    if reference in refs.patients:
        return refs.patients[reference]
    local = _LOCAL_ID.match(reference)
    if local and local["type"] == "Patient":
        return (PATIENT_SYSTEM, local["id"].lower())
    raise FhirError(
        422, "invalid", "The subject must be a Patient by identifier, by id (Patient/<id>) or "
        "an entry of this Bundle.", where,
    )  # fmt: skip


def _reference_to_procedure(ref: Any, refs: References, where: str) -> ProcedureKey:
    if ref.identifier is not None and ref.identifier.system and ref.identifier.value:
        return (str(ref.identifier.system), str(ref.identifier.value))
    reference = str(ref.reference or "")
    if reference in refs.procedures:
        return refs.procedures[reference]
    local = _LOCAL_ID.match(reference)
    if local and local["type"] == "Procedure":
        return (PROCEDURE_SYSTEM, local["id"].lower())
    raise FhirError(
        422, "invalid", "partOf must be a Procedure by identifier, by id (Procedure/<id>) or an "
        "entry of this Bundle.", where,
    )  # fmt: skip


def _aware(value: Any, where: str) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            return in_utc(value)
        except ValueError as exc:
            raise FhirError(422, "invalid", f"The dateTime {exc}.", where) from None
    raise FhirError(422, "invalid", "A dateTime with a time and a time zone is required.", where)


def _text(notes: Any) -> str | None:
    texts = [str(n.text) for n in notes or [] if getattr(n, "text", None)]
    return "\n".join(texts)[:4000] if texts else None


def _data(model: type[M], values: dict[str, Any], where: str) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise FhirError(422, "invalid", str(first.get("msg", "invalid")), where) from None


def _key_fits(key: tuple[str, str], where: str) -> None:
    if len(key[0]) > 120 or len(key[1]) > 200:
        raise FhirError(
            422, "too-long", "Identifier system (120) or value (200) is too long.", where
        )


# --- resources -> events ---------------------------------------------------------------------
@dataclass
class Envelope:
    source: str
    event_id: str
    payload: dict[str, Any]


def observation(obs: Observation, env: Envelope, refs: References, where: str) -> list[Incoming]:
    if obs.status not in ("final", "amended", "corrected"):
        raise FhirError(
            422, "not-supported", "Only final (or amended, corrected) observations are recorded.",
            f"{where}.status",
        )  # fmt: skip
    codings = [(str(c.system or ""), str(c.code or "")) for c in (obs.code.coding or [])]
    known = [OBSERVATION_CODES[c] for c in codings if c in OBSERVATION_CODES]
    if not known:
        seen = ", ".join(f"{s}|{c}" for s, c in codings) or "none"
        raise FhirError(
            422, "code-invalid", f"Unknown observation code ({seen}); this registry takes LOINC "
            "72514-3, 38208-5, 57696-7, 38221-8, 38215-0, 97908-8, 89243-0 and NCIt C38144.",
            f"{where}.code",
        )  # fmt: skip
    kind, scale = known[0]
    value: float | None = None
    unit: str | None = None
    if obs.valueQuantity is not None and obs.valueQuantity.value is not None:
        value = float(obs.valueQuantity.value)
        if obs.valueQuantity.system in (None, UCUM):
            unit = obs.valueQuantity.code
    elif obs.valueInteger is not None:
        value = float(obs.valueInteger)
    if value is None:
        raise FhirError(
            422, "required", "A value (valueQuantity or valueInteger) is required.",
            f"{where}.value[x]",
        )  # fmt: skip
    occurred = _aware(obs.effectiveDateTime, f"{where}.effectiveDateTime")
    patient = _reference_to_patient(obs.subject, refs, f"{where}.subject")
    part_of = (
        _reference_to_procedure(obs.partOf[0], refs, f"{where}.partOf[0]") if obs.partOf else None
    )
    if part_of:
        _key_fits(part_of, f"{where}.partOf[0]")
    note = _text(obs.note)
    data: BaseModel
    if kind == "pain":
        if scale is None:  # 38208-5 "Pain severity - Reported": the unit says which scale
            scale = PainScale.vas if unit == "mm" else PainScale.nrs11
        site = PainSite.back
        if obs.bodySite is not None:
            text = (obs.bodySite.text or "").strip().lower()
            if text not in {s.value for s in PainSite} or obs.bodySite.coding:
                raise FhirError(
                    422, "code-invalid", "bodySite: the registry records pain as text back, "
                    "leg or other (no verified codes).", f"{where}.bodySite",
                )  # fmt: skip
            site = PainSite(text)
        values: dict[str, Any] = {"scale": scale, "value": value, "site": site, "note": note}
        data = _data(PainData, _with_ref(values, part_of), f"{where}.value[x]")
    elif kind == "performance":
        values = {"scale": scale, "value": value, "note": note}
        if not value.is_integer():
            raise FhirError(422, "invalid", "The score is a whole number.", f"{where}.value[x]")
        values["value"] = int(value)
        data = _data(PerformanceData, _with_ref(values, part_of), f"{where}.value[x]")
    else:
        values = {"scale": "odi", "value": value, "note": note}
        data = _data(FunctionData, _with_ref(values, part_of), f"{where}.value[x]")
    return [
        Incoming(
            env.source, env.event_id, EVENT_TYPE[kind], occurred, patient, data, env.payload,
            part_of, _senders_identifiers(obs, where),
        )
    ]  # fmt: skip


def _with_ref(values: dict[str, Any], key: ProcedureKey | None) -> dict[str, Any]:
    return {**values, "procedure_ref": key[1]} if key else values


def procedure(
    proc: Procedure, env: Envelope, refs: References, full_url: str | None, where: str
) -> list[Incoming]:
    if proc.status != "completed":
        raise FhirError(
            422, "not-supported", "Only completed procedures are recorded.", f"{where}.status"
        )
    kind = _procedure_kind(proc, where)
    performed = proc.performedDateTime
    if performed is None and proc.performedPeriod is not None:
        performed = proc.performedPeriod.start
    occurred = _aware(performed, f"{where}.performedDateTime")
    patient = _reference_to_patient(proc.subject, refs, f"{where}.subject")
    levels = [_level(site, f"{where}.bodySite[{i}]") for i, site in enumerate(proc.bodySite or [])]
    key = procedure_key(proc, full_url)
    _key_fits(key, f"{where}.identifier")
    values = {
        "procedure_ref": key[1],
        "kind": kind,
        "levels": [{"level": lv, "is_variant": lv in VARIANT_LEVELS} for lv in levels],
        "notes": _text(proc.note),
    }
    data = _data(ProcedureData, values, f"{where}.bodySite")
    return [
        Incoming(env.source, env.event_id, "procedure.performed", occurred, patient, data,
                 env.payload, key, _senders_identifiers(proc, where))
    ]  # fmt: skip


def _procedure_kind(proc: Procedure, where: str) -> ProcedureKind:
    code = proc.code
    codings = [
        (str(c.system or ""), str(c.code or "")) for c in (code.coding if code else []) or []
    ]
    kinds = {PROCEDURE_CPT[c] for s, c in codings if s == CPT and c in PROCEDURE_CPT}
    if len(kinds) > 1:
        raise FhirError(422, "invalid", "The CPT codes name different procedures.", f"{where}.code")
    if kinds:
        return kinds.pop()
    if codings:
        seen = ", ".join(f"{s}|{c}" for s, c in codings)
        raise FhirError(
            422, "code-invalid", f"Unknown procedure code ({seen}); this registry takes CPT "
            "22510-22515 and 20983 (SNOMED codes only alongside one of these).", f"{where}.code",
        )  # fmt: skip
    text = (code.text or "").strip().lower() if code else ""
    if text in {k.value for k in ProcedureKind}:
        return ProcedureKind(text)
    raise FhirError(
        422, "code-invalid", "Procedure.code needs a CPT code or, where none is verified, the "
        "registry's kind as text (e.g. radiotherapy).", f"{where}.code",
    )  # fmt: skip


def _level(site: Any, where: str) -> str:
    for coding in site.coding or []:
        if str(coding.system or "") == SNOMED:
            level = VERTEBRA_BY_SNOMED.get(str(coding.code or ""))
            if level is None:
                raise FhirError(
                    422, "code-invalid", f"SNOMED CT {coding.code} is not a vertebra this "
                    "registry knows (C1-L5; sacral levels as text).", where,
                )  # fmt: skip
            return level
    if site.coding:
        raise FhirError(422, "code-invalid", "bodySite: only SNOMED CT vertebra codes.", where)
    name = normalise_level(str(site.text or ""))
    if name not in LEVEL_POSITION:
        raise FhirError(
            422, "code-invalid", f"bodySite {site.text!r} is not a vertebral level.", where
        )
    return name


def patient(pat: Patient, env: Envelope, full_url: str | None, where: str) -> list[Incoming]:
    key = patient_key(pat, full_url, where)
    for i, ident in enumerate(identifiers(pat)):
        _key_fits(ident, f"{where}.identifier[{i}]")
    values: dict[str, Any] = {
        "identifiers": [{"system": s, "value": v} for s, v in identifiers(pat)[1:]],
    }
    if pat.birthDate is not None:
        values["birth_date"] = pat.birthDate
    if pat.gender is not None:
        values["sex"] = pat.gender
    data = _data(PatientData, values, f"{where}.birthDate")
    registered_at = datetime.now(UTC)
    events = [
        Incoming(env.source, env.event_id, "patient.registered", registered_at, key, data,
                 env.payload, arrival_time=True)
    ]  # fmt: skip
    died = pat.deceasedDateTime
    if pat.deceasedBoolean and died is None:
        raise FhirError(
            422, "required", "The registry needs the date of death: send deceasedDateTime.",
            f"{where}.deceasedBoolean",
        )  # fmt: skip
    if died is not None:
        when = (
            datetime(died.year, died.month, died.day, tzinfo=UTC)
            if not isinstance(died, datetime)
            else _aware(died, f"{where}.deceasedDateTime")
        )
        events.append(
            Incoming(env.source, _derived(env.event_id, "deceased"), "patient.deceased", when, key,
                     DeathData(), env.payload)
        )  # fmt: skip
    return events


def _derived(event_id: str, suffix: str) -> str:
    candidate = f"{event_id}#{suffix}"
    return candidate if len(candidate) <= 200 else hashlib.sha256(candidate.encode()).hexdigest()


def to_events(
    resource: BaseModel, env: Envelope, refs: References, full_url: str | None, where: str
) -> list[Incoming]:
    if isinstance(resource, Observation):
        return observation(resource, env, refs, where)
    if isinstance(resource, Procedure):
        return procedure(resource, env, refs, full_url, where)
    assert isinstance(resource, Patient)
    return patient(resource, env, full_url, where)
