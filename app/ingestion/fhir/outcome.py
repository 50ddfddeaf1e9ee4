"""Errors of the FHIR door as OperationOutcome (instead of problem+json)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from app.errors import FieldIssue

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class EntryIssue(FieldIssue):
    """A refused entry of a transaction: located like any field, and carrying the issue the
    entry would have had on its own (its code, reason and FHIRPath expressions)."""

    issue: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


# HTTP status -> OperationOutcome.issue.code (FHIR IssueType)
_ISSUE_TYPE = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    428: "required",
    429: "throttled",
}
# problem codes that name a FHIR IssueType more precisely
_BY_CODE = {
    "code-invalid": "code-invalid",
    "not-supported": "not-supported",
    "required": "required",
    "too-long": "too-long",
    "too-costly": "too-costly",
    "invalid": "invalid",
    "malformed-json": "structure",
    "validation-error": "invalid",
    "event-conflict": "conflict",
}
# event fields (as the JSON door names them) -> FHIRPath within the resource
_PATHS: dict[str, dict[str, str]] = {
    "Observation": {
        "data.value": "value[x]",
        "data.scale": "code",
        "data.site": "bodySite",
        "data.procedure_ref": "partOf",
        "data.identifier": "identifier",
        "occurred_at": "effectiveDateTime",
        "patient": "subject",
    },
    "Procedure": {
        "data.levels": "bodySite",
        "data.kind": "code",
        "data": "code",
        "occurred_at": "performedDateTime",
        "patient": "subject",
        "data.procedure_ref": "identifier",
        "data.identifier": "identifier",
    },
    "Patient": {
        "data.birth_date": "birthDate",
        "data.sex": "gender",
        "data.identifiers": "identifier",
        "data.death_date": "deceasedDateTime",
        "occurred_at": "deceasedDateTime",
        "data": "birthDate",
        "patient": "identifier",
    },
}


def fhir_path(resource_type: str, where: str, event_field: str) -> str:
    """`data.levels.0.level` of a Procedure at `Bundle.entry[2].resource` ->
    `Bundle.entry[2].resource.bodySite`."""
    table = _PATHS.get(resource_type, {})
    parts = event_field.split(".")
    for n in range(len(parts), 0, -1):
        head = ".".join(parts[:n])
        if head in table:
            return f"{where}.{table[head]}"
    return where


def issue(status: int, code: str, detail: str, expressions: Sequence[str] = ()) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "severity": "error" if status >= 400 else "information",
        "code": _BY_CODE.get(
            code, _ISSUE_TYPE.get(status, "exception" if status >= 500 else "processing")
        ),
        "details": {"text": detail},
        "diagnostics": code,
    }
    if expressions:
        entry["expression"] = list(dict.fromkeys(expressions))
    return entry


def operation_outcome(issues: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


def outcome_of(status: int, code: str, detail: str, errors: Sequence[FieldIssue]) -> dict[str, Any]:
    expressions = [e.field for e in errors if _is_path(e.field)]
    return operation_outcome([issue(status, code, detail, expressions)])


def _is_path(field: str) -> bool:
    return field[:1].isupper()  # FHIRPath starts with a resource type (Observation..., Bundle...)


def render_error(
    request: Request,
    status: int,
    code: str,
    detail: str,
    errors: Sequence[FieldIssue],
    headers: Mapping[str, str] | None,
) -> JSONResponse:
    """app.errors renders every error under /fhir/ with this."""
    body = outcome_of(status, code, detail, errors)
    if errors and not body["issue"][0].get("expression"):
        body["issue"][0]["diagnostics"] = f"{code}: " + "; ".join(
            f"{e.field}: {e.message}" for e in errors
        )
    # a transaction's refused entries: one issue each, after the summary
    body["issue"] += [dict(e.issue) for e in errors if isinstance(e, EntryIssue)]
    return JSONResponse(
        body, status_code=status, media_type=FHIR_JSON, headers=dict(headers) if headers else None
    )
