"""Reading a FHIR request before its resources become events: the screen and the validation
(fhir.resources, R4B models), the If-None-Exist condition, identifiers, and what the entries of
a Bundle call each other (app.ingestion.fhir.inbound maps the resources)."""

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
from app.ingestion.fhir.codes import URI_SYSTEM
from app.ingestion.identifiers import MAX_IDENTIFIERS, kept
from app.ingestion.mappers import PATIENT_SYSTEM, PROCEDURE_SYSTEM, PatientKey, ProcedureKey

M = TypeVar("M", bound=BaseModel)
MODELS: dict[str, type[BaseModel]] = {
    "Observation": Observation,
    "Procedure": Procedure,
    "Patient": Patient,
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


def senders_identifiers(resource: BaseModel, where: str) -> tuple[tuple[str, str], ...]:
    """The identifiers the registry keeps with the record (checked: size, count)."""
    found = identifiers(resource)
    if len(found) > MAX_IDENTIFIERS:
        raise FhirError(
            422, "too-costly", f"At most {MAX_IDENTIFIERS} identifiers.", f"{where}.identifier"
        )
    for i, ident in enumerate(found):
        check_key_fits(ident, f"{where}.identifier[{i}]")
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


def patient_reference(ref: Any, refs: References, where: str) -> PatientKey:
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


def procedure_reference(ref: Any, refs: References, where: str) -> ProcedureKey:
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


def aware(value: Any, where: str) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            return in_utc(value)
        except ValueError as exc:
            raise FhirError(422, "invalid", f"The dateTime {exc}.", where) from None
    raise FhirError(422, "invalid", "A dateTime with a time and a time zone is required.", where)


def note_text(notes: Any) -> str | None:
    texts = [str(n.text) for n in notes or [] if getattr(n, "text", None)]
    return "\n".join(texts)[:4000] if texts else None


def data_model(model: type[M], values: dict[str, Any], where: str) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise FhirError(422, "invalid", str(first.get("msg", "invalid")), where) from None


def check_key_fits(key: tuple[str, str], where: str) -> None:
    if len(key[0]) > 120 or len(key[1]) > 200:
        raise FhirError(
            422, "too-long", "Identifier system (120) or value (200) is too long.", where
        )
