"""FHIR R4 resources (validated with fhir.resources, R4B models) -> the door's events.

Observation (pain, performance, function), Procedure (sessions with vertebral levels) and
Patient (identifiers, birth date, gender, death) become the same events as the JSON door's,
so they get the same validation, idempotency and out-of-order handling.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from pydantic import BaseModel

from app.clinical.enums import PainScale, PainSite, ProcedureKind, TargetPainSite
from app.clinical.levels import LEVEL_POSITION, VARIANT_LEVELS, normalise_level
from app.ingestion.data import (
    DeathData,
    FunctionData,
    PainData,
    PatientData,
    PerformanceData,
    ProcedureData,
)
from app.ingestion.fhir.codes import (
    CPT,
    OBSERVATION_CODES,
    PROCEDURE_CPT,
    SNOMED,
    TARGET_PAIN_SITE_EXTENSION,
    UCUM,
    VERTEBRA_BY_SNOMED,
)
from app.ingestion.fhir.reading import (
    FhirError,
    References,
    aware,
    check_key_fits,
    data_model,
    identifiers,
    note_text,
    patient_key,
    patient_reference,
    procedure_key,
    procedure_reference,
    senders_identifiers,
)
from app.ingestion.mappers import (
    Incoming,
    ProcedureKey,
)

EVENT_TYPE = {
    "pain": "pain.scored",
    "performance": "performance.scored",
    "function": "function.scored",
}


# --- resources -> events ---------------------------------------------------------------------
@dataclass
class FhirEnvelope:
    """What the door knows of a request besides the resource: its source, its event id and
    its payload."""

    source: str
    event_id: str
    payload: dict[str, Any]


def observation(
    obs: Observation, env: FhirEnvelope, refs: References, where: str
) -> list[Incoming]:
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
    occurred = aware(obs.effectiveDateTime, f"{where}.effectiveDateTime")
    patient = patient_reference(obs.subject, refs, f"{where}.subject")
    part_of = procedure_reference(obs.partOf[0], refs, f"{where}.partOf[0]") if obs.partOf else None
    if part_of:
        check_key_fits(part_of, f"{where}.partOf[0]")
    note = note_text(obs.note)
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
        data = data_model(PainData, _with_ref(values, part_of), f"{where}.value[x]")
    elif kind == "performance":
        values = {"scale": scale, "value": value, "note": note}
        if not value.is_integer():
            raise FhirError(422, "invalid", "The score is a whole number.", f"{where}.value[x]")
        values["value"] = int(value)
        data = data_model(PerformanceData, _with_ref(values, part_of), f"{where}.value[x]")
    else:
        values = {"scale": "odi", "value": value, "note": note}
        data = data_model(FunctionData, _with_ref(values, part_of), f"{where}.value[x]")
    return [
        Incoming(
            env.source, env.event_id, EVENT_TYPE[kind], occurred, patient, data, env.payload,
            part_of, senders_identifiers(obs, where),
        )
    ]  # fmt: skip


def _with_ref(values: dict[str, Any], key: ProcedureKey | None) -> dict[str, Any]:
    return {**values, "procedure_ref": key[1]} if key else values


def procedure(
    proc: Procedure, env: FhirEnvelope, refs: References, full_url: str | None, where: str
) -> list[Incoming]:
    if proc.status != "completed":
        raise FhirError(
            422, "not-supported", "Only completed procedures are recorded.", f"{where}.status"
        )
    kind = _procedure_kind(proc, where)
    performed = proc.performedDateTime
    if performed is None and proc.performedPeriod is not None:
        performed = proc.performedPeriod.start
    occurred = aware(performed, f"{where}.performedDateTime")
    patient = patient_reference(proc.subject, refs, f"{where}.subject")
    levels = [_level(site, f"{where}.bodySite[{i}]") for i, site in enumerate(proc.bodySite or [])]
    key = procedure_key(proc, full_url)
    check_key_fits(key, f"{where}.identifier")
    values = {
        "procedure_ref": key[1],
        "kind": kind,
        "levels": [{"level": lv, "is_variant": lv in VARIANT_LEVELS} for lv in levels],
        "target_pain_site": _target_pain_site(proc, where),
        "notes": note_text(proc.note),
    }
    data = data_model(ProcedureData, values, f"{where}.bodySite")
    return [
        Incoming(env.source, env.event_id, "procedure.performed", occurred, patient, data,
                 env.payload, key, senders_identifiers(proc, where))
    ]  # fmt: skip


def _target_pain_site(proc: Procedure, where: str) -> TargetPainSite:
    """The registry's extension (codes.TARGET_PAIN_SITE_EXTENSION); none: back pain."""
    found = [
        (i, ext)
        for i, ext in enumerate(proc.extension or [])
        if ext.url == TARGET_PAIN_SITE_EXTENSION
    ]
    if not found:
        return TargetPainSite.back
    i, ext = found[0]
    field = f"{where}.extension[{i}].valueCode"
    if len(found) > 1:
        raise FhirError(422, "structure", "At most one target pain site.", field)
    if ext.valueCode not in {site.value for site in TargetPainSite}:
        raise FhirError(422, "code-invalid", "The target pain site is back or leg.", field)
    return TargetPainSite(ext.valueCode)


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


def patient(pat: Patient, env: FhirEnvelope, full_url: str | None, where: str) -> list[Incoming]:
    key = patient_key(pat, full_url, where)
    for i, ident in enumerate(identifiers(pat)):
        check_key_fits(ident, f"{where}.identifier[{i}]")
    values: dict[str, Any] = {
        "identifiers": [{"system": s, "value": v} for s, v in identifiers(pat)[1:]],
    }
    if pat.birthDate is not None:
        values["birth_date"] = pat.birthDate
    if pat.gender is not None:
        values["sex"] = pat.gender
    data = data_model(PatientData, values, f"{where}.birthDate")
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
            else aware(died, f"{where}.deceasedDateTime")
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
    resource: BaseModel, env: FhirEnvelope, refs: References, full_url: str | None, where: str
) -> list[Incoming]:
    if isinstance(resource, Observation):
        return observation(resource, env, refs, where)
    if isinstance(resource, Procedure):
        return procedure(resource, env, refs, full_url, where)
    assert isinstance(resource, Patient)
    return patient(resource, env, full_url, where)
