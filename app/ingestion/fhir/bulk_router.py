"""FHIR Bulk Data export routes (app/ingestion/fhir/bulk.py): kick-off, status, cancel, files.
Errors are OperationOutcome, as everywhere under /fhir/r4."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from app.audit.dependencies import AuditDep
from app.db import SessionDep
from app.errors import DomainError, RuleViolation
from app.http.guards import CasesRead
from app.ingestion.fhir import bulk
from app.ingestion.fhir.outcome import FHIR_JSON

PREFIX = "/fhir/r4"
router = APIRouter(prefix=PREFIX, tags=["fhir"])
_OUTCOME: dict[str, Any] = {"description": "OperationOutcome", "content": {FHIR_JSON: {}}}
ERRORS: dict[int | str, dict[str, Any]] = {s: _OUTCOME for s in (400, 401, 403, 404, 422)}
RETRY_AFTER_S = 2

PreferAsync = Annotated[
    str | None,
    Header(
        alias="Prefer",
        description="Required: `respond-async` (the Bulk Data kick-off is asynchronous).",
        examples=["respond-async"],
    ),
]
Since = Annotated[
    str | None,
    Query(
        alias="_since",
        description="Only resources changed at or after this instant (FHIR instant, with zone).",
    ),
]
Types = Annotated[
    str | None,
    Query(alias="_type", description="Comma-separated resource types (default: all exported)."),
]
OutputFormat = Annotated[
    str | None,
    Query(alias="_outputFormat", description="application/fhir+ndjson (the default and only)."),
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise RuleViolation("_since", f"{value!r} is not a FHIR instant with a time zone.")
    return parsed


async def _kick_off(
    level: str,
    principal: CasesRead,
    request: Request,
    session: SessionDep,
    prefer: str | None,
    since: str | None,
    types: str | None,
    output_format: str | None,
) -> Response:
    if (prefer or "").strip().lower() != "respond-async":
        raise RuleViolation("Prefer", "A Bulk Data kick-off needs `Prefer: respond-async`.")
    bulk.check_output_format(output_format)
    job = await bulk.kick_off(
        session,
        principal.id,
        principal.sees_identifiers,
        level,
        str(request.url),
        bulk.parse_types(types),
        _since(since),
    )
    status_url = f"{_base(request)}/$export-status/{job.id}"
    accepted = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational",
                   "diagnostics": f"Export accepted; poll {status_url}"}],
    }  # fmt: skip
    return JSONResponse(accepted, status_code=202, headers={"Content-Location": status_url})


_KICK_OFF_DOC = (
    "Bulk Data kick-off (HL7 Bulk Data Access IG): answered 202 with the status URL in "
    "Content-Location. Poll it; when the export is done it answers the manifest with one "
    "NDJSON file per resource type (docs/fhir-bulk.md). Scope cases:read."
)


def _kick_off_route(path: str, level: str, summary: str) -> None:
    @router.get(
        path,
        summary=summary,
        description=_KICK_OFF_DOC,
        status_code=202,
        responses={202: {"description": "Accepted: see Content-Location."}, **ERRORS},
        name=f"export_{level}",
    )
    async def kick_off(
        principal: CasesRead,
        request: Request,
        session: SessionDep,
        prefer: PreferAsync = None,
        since: Since = None,
        types: Types = None,
        output_format: OutputFormat = None,
    ) -> Response:
        args = (principal, request, session, prefer, since, types, output_format)
        return await _kick_off(level, *args)


_kick_off_route("/$export", "system", "Bulk Data export of the whole registry (system level)")
_kick_off_route(
    "/Patient/$export", "patient", "Bulk Data export of every patient's compartment (Patient)"
)


@router.get(
    "/$export-status/{job_id}",
    summary="Bulk Data export status: 202 while it runs, 200 with the manifest when done",
    responses={200: {"description": "The manifest (application/json)."}, **ERRORS},
)
async def export_status(
    principal: CasesRead, request: Request, session: SessionDep, job_id: uuid.UUID
) -> Response:
    job = await bulk.job_of(session, principal.id, job_id)
    if job.status in ("queued", "running"):
        progress = job.progress or job.status
        return Response(
            status_code=202,
            headers={"X-Progress": progress, "Retry-After": str(RETRY_AFTER_S)},
        )
    if job.status == "failed":
        raise DomainError(
            f"The export failed ({job.error}); ask for it again.", "export-failed", 500
        )
    expires = job.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT") if job.expires_at else None
    return JSONResponse(
        bulk.manifest(job, _base(request)), headers={"Expires": expires} if expires else None
    )


@router.delete(
    "/$export-status/{job_id}",
    summary="Cancel a Bulk Data export, or delete a finished one and its files",
    status_code=202,
    responses=ERRORS,
)
async def export_cancel(principal: CasesRead, session: SessionDep, job_id: uuid.UUID) -> Response:
    await bulk.cancel(session, principal.id, job_id)
    return Response(status_code=202)


@router.get(
    "/$export-files/{job_id}/{name}",
    summary="One NDJSON file of a finished Bulk Data export (the credential that asked only)",
    responses={200: {"content": {bulk.NDJSON: {}}}, **ERRORS},
)
async def export_file(
    principal: CasesRead, session: SessionDep, audit: AuditDep, job_id: uuid.UUID, name: str
) -> FileResponse:
    job = await bulk.job_of(session, principal.id, job_id)
    path = bulk.file_path(job, name)
    for patient_id in job.patient_ids or []:  # every child whose data the file holds
        audit.note_patient(uuid.UUID(patient_id))
    return FileResponse(path, media_type=bulk.NDJSON)
