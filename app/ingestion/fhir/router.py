"""/fhir/r4: the FHIR R4 door (JSON). Errors are answered as OperationOutcome."""

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts

from app.audit.dependencies import AuditDep
from app.audit.recorder import AuditContext
from app.auth.principal import Principal
from app.auth.scopes import CASES_READ
from app.config import get_settings
from app.db import SessionDep
from app.errors import register_error_renderer
from app.http.guards import CasesRead, EventsWrite
from app.ingestion.fhir import outbound, search, search_clinical, service
from app.ingestion.fhir.capability import capability_statement
from app.ingestion.fhir.outcome import FHIR_JSON, render_error
from app.ingestion.fhir.searchset import DEFAULT_COUNT, MAX_COUNT, Query, read_query
from app.ingestion.router import REPLAYED_HEADER, json_body_only

PREFIX = "/fhir/r4"
register_error_renderer(PREFIX + "/", render_error)

_OUTCOME: dict[str, Any] = {"description": "OperationOutcome", "content": {FHIR_JSON: {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: _OUTCOME for status in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}
_RESOURCE: dict[str, Any] = {"content": {FHIR_JSON: {}}}

# each route declares its scope in its signature: EventsWrite or CasesRead
write = APIRouter(prefix=PREFIX, tags=["fhir"])
read = APIRouter(prefix=PREFIX, tags=["fhir"])
_MRN = {"system": "urn:example:bcch:mrn", "value": "MRN-0042"}
PATIENT_EXAMPLE: dict[str, Any] = {
    "resourceType": "Patient",
    "identifier": [_MRN],
    "birthDate": "2005-03-14",
    "gender": "female",
}
PROCEDURE_EXAMPLE: dict[str, Any] = {
    "resourceType": "Procedure",
    # (the events' source and procedure_ref: the same procedure at either door)
    "identifier": [{"system": "urn:example:bcch:epic", "value": "OR-2019-0212-07"}],
    "status": "completed",
    "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "22510"}]},
    "subject": {"identifier": _MRN},
    "performedDateTime": "2019-02-12T09:30:00Z",
    "bodySite": [
        {"coding": [{"system": "http://snomed.info/sct", "code": "62487009"}], "text": "T7"},
        {"coding": [{"system": "http://snomed.info/sct", "code": "23215003"}], "text": "T12"},
    ],
}
OBSERVATION_EXAMPLE: dict[str, Any] = {
    "resourceType": "Observation",
    "identifier": [{"system": "urn:example:bcch:obs", "value": "OBS-0042"}],
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
    "subject": {"identifier": _MRN},
    "partOf": [{"identifier": {"system": "urn:example:bcch:epic", "value": "OR-2019-0212-07"}}],
    "effectiveDateTime": "2019-02-19T10:00:00Z",
    "valueQuantity": {"value": 5, "unit": "{score}", "system": "http://unitsofmeasure.org"},
}
BUNDLE_EXAMPLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": f"urn:uuid:{n}",
            "resource": resource,
            "request": {
                "method": "POST",
                "url": resource["resourceType"],
                "ifNoneExist": "identifier={system}|{value}".format(**resource["identifier"][0]),
            },
        }
        for n, resource in enumerate((PATIENT_EXAMPLE, PROCEDURE_EXAMPLE, OBSERVATION_EXAMPLE))
    ],
}


def _body(example: dict[str, Any]) -> Any:
    return Body(media_type=FHIR_JSON, openapi_examples={"example": {"value": example}})


BundleBody = Annotated[dict[str, Any], _body(BUNDLE_EXAMPLE)]
PatientBody = Annotated[dict[str, Any], _body(PATIENT_EXAMPLE)]
ProcedureBody = Annotated[dict[str, Any], _body(PROCEDURE_EXAMPLE)]
ObservationBody = Annotated[dict[str, Any], _body(OBSERVATION_EXAMPLE)]
IfNoneExist = Annotated[
    str | None,
    Header(
        description="Conditional create: `identifier=system|value`. When a record with that "
        "identifier exists, nothing is created and it is returned with 200. Without it, a "
        "Procedure or Observation whose own identifier is already stored (the same patient's) "
        "is answered the same way: a create sent again, or many times at once, is never a copy.",
        examples=["identifier=urn:example:bcch:obs|OBS-0042"],
    ),
]


def _fhir(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


@write.post(
    "/Bundle",
    summary="Post a batch or transaction Bundle of Patient, Procedure and Observation creates",
    description="`batch`: each entry succeeds or fails on its own (`batch-response`). "
    "`transaction`: all entries or none (`transaction-response`, or an OperationOutcome naming "
    "every refused entry). Entries are POSTs; `request.ifNoneExist` makes them conditional "
    "(idempotent); without it, an entry whose identifier is already stored is answered 200 too. "
    "Entries may refer to each other by `fullUrl` (`urn:uuid:...`).",
    dependencies=[Depends(json_body_only)],
    response_class=JSONResponse,
    responses={200: _RESOURCE, **ERRORS},
)
async def post_bundle(
    principal: EventsWrite, body: BundleBody, session: SessionDep
) -> JSONResponse:
    return _fhir(await service.bundle(session, body, locations=principal.has(CASES_READ)))


async def _create(
    principal: Principal,
    audit: AuditContext,
    resource_type: str,
    body: dict[str, Any],
    session: SessionDep,
    if_none_exist: str | None,
) -> JSONResponse:
    """The created (or found) resource. Its Location only for a credential that can read it
    (cases:read): an events:write key gets the resource in the body, and no link it cannot
    follow."""
    answer = await service.create(session, resource_type, body, if_none_exist)
    assert answer.record_id is not None
    resource = await service.render(session, resource_type, answer.record_id)
    audit.note_resource(answer.record_id)  # the audit cannot see this response's headers
    headers = {}
    if principal.has(CASES_READ):
        headers["Location"] = f"{PREFIX}/{answer.location}"
    if answer.status == 200:
        headers[REPLAYED_HEADER] = "true"
    return _fhir(resource, answer.status, headers)


_CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created", **_RESOURCE},
    200: {"description": "Already there (conditional create)", **_RESOURCE},
}


@write.post(
    "/Observation",
    status_code=201,
    summary="Record an Observation: pain (LOINC 72514-3 ...), performance status, ODI",
    dependencies=[Depends(json_body_only)],
    response_class=JSONResponse,
    responses={**_CREATED, **ERRORS},
)
async def post_observation(
    principal: EventsWrite,
    audit: AuditDep,
    body: ObservationBody,
    session: SessionDep,
    if_none_exist: IfNoneExist = None,
) -> JSONResponse:
    return await _create(principal, audit, "Observation", body, session, if_none_exist)


@write.post(
    "/Procedure",
    status_code=201,
    summary="Record a Procedure (CPT 22510-22515, 20983) with its vertebrae (SNOMED CT bodySite)",
    dependencies=[Depends(json_body_only)],
    response_class=JSONResponse,
    responses={**_CREATED, **ERRORS},
)
async def post_procedure(
    principal: EventsWrite,
    audit: AuditDep,
    body: ProcedureBody,
    session: SessionDep,
    if_none_exist: IfNoneExist = None,
) -> JSONResponse:
    return await _create(principal, audit, "Procedure", body, session, if_none_exist)


@write.post(
    "/Patient",
    status_code=201,
    summary="Register a Patient by identifier",
    dependencies=[Depends(json_body_only)],
    response_class=JSONResponse,
    responses={**_CREATED, **ERRORS},
)
async def post_patient(
    principal: EventsWrite,
    audit: AuditDep,
    body: PatientBody,
    session: SessionDep,
    if_none_exist: IfNoneExist = None,
) -> JSONResponse:
    return await _create(principal, audit, "Patient", body, session, if_none_exist)


Prefer = Annotated[
    str | None,
    Header(
        description="`handling=lenient`: unknown search parameters are ignored (and left out "
        "of the self link). Without it (strict, this server's default) they are refused (400).",
        examples=["handling=lenient"],
    ),
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _query(request: Request, known: list[str] | tuple[str, ...], prefer: str | None) -> Query:
    return read_query(request.query_params.multi_items(), known, prefer)


def _documented(*params: tuple[str, str, str]) -> dict[str, Any]:
    """The search parameters in the OpenAPI schema (read by hand from the query string)."""
    paging = (
        ("_count", "number", f"page size, 1-{MAX_COUNT} (default {DEFAULT_COUNT})"),
        ("_cursor", "string", "opaque: follow the next link"),
        ("_total", "token", "accurate: always count the matches"),
    )
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "description": f"{kind}: {doc}",
             "schema": {"type": "array", "items": {"type": "string"}}}
            for name, kind, doc in (*params, *paging)
        ]
    }  # fmt: skip


@read.get(
    "/metadata",
    summary="The CapabilityStatement (no credential needed): what this FHIR server does",
    response_class=JSONResponse,
    responses={200: _RESOURCE},
)
async def metadata(request: Request) -> JSONResponse:
    cached = getattr(request.app.state, "fhir_capability", None)
    if cached is None:
        routes = [
            r
            for r in iter_route_contexts(request.app.routes)
            if isinstance(r.original_route, APIRoute) and str(r.path).startswith(PREFIX + "/")
        ]
        settings = get_settings()
        cached = capability_statement(
            routes,
            PREFIX,
            _base(request),
            request.app.version,
            settings.oauth2_enabled,
            bool(settings.cors_origins),
        )
        request.app.state.fhir_capability = cached
    # the routes are fixed for the app's life; the address is the one this client used
    return _fhir({**cached, "implementation": {**cached["implementation"], "url": _base(request)}})


@read.get(
    "/Patient/{patient_id}/$everything",
    summary="R4 Patient-everything: the patient and its case, as a searchset",
    description="`_since` (an instant: what changed since), `_type` (comma-separated types), "
    "`_count` (page size) and `next` links. To move a case to another registry use `$transfer`.",
    response_class=JSONResponse,
    responses={200: _RESOURCE, **ERRORS},
    openapi_extra=_documented(
        ("_since", "instant", "only resources changed since then"),
        ("_type", "string", "comma-separated resource types"),
    ),
)
async def everything(
    principal: CasesRead,
    request: Request,
    patient_id: uuid.UUID,
    session: SessionDep,
    prefer: Prefer = None,
) -> JSONResponse:
    query = _query(request, search.EVERYTHING_PARAMETERS, prefer)
    return _fhir(await search.everything(session, _base(request), patient_id, query))


@read.get(
    "/Patient/{patient_id}/$transfer",
    summary="The patient's case as a transaction Bundle that POST /fhir/r4/Bundle accepts back",
    description="Registry-to-registry transfer (this registry's own operation): every entry a "
    "conditional create, so posting it to the same registry changes nothing and posting it to "
    "an empty one rebuilds the case as far as the FHIR mapping carries it (docs/fhir.md).",
    response_class=JSONResponse,
    responses={200: _RESOURCE, **ERRORS},
)
async def transfer(
    principal: CasesRead, patient_id: uuid.UUID, session: SessionDep
) -> JSONResponse:
    return _fhir(await outbound.transfer(session, patient_id))


def _search_route(resource_type: str) -> None:
    search_function = {
        "Patient": search.patients,
        "Procedure": search.procedures,
        "Observation": search.observations,
        **search_clinical.SEARCHES,
    }[resource_type]
    known = search.known(resource_type)

    async def run(
        principal: CasesRead, request: Request, session: SessionDep, prefer: Prefer = None
    ) -> JSONResponse:
        query = _query(request, known, prefer)
        return _fhir(await search_function(session, _base(request), query))

    params = search.SEARCH_PARAMETERS[resource_type]
    extra = [("_include", "string", v) for v in search.INCLUDES.get(resource_type, ())]
    read.add_api_route(
        f"/{resource_type}",
        run,
        methods=["GET"],
        name=f"search_{resource_type.lower()}",
        summary=f"Search {resource_type} (a searchset Bundle, paged by next links)",
        response_class=JSONResponse,
        responses={200: _RESOURCE, **ERRORS},
        openapi_extra=_documented(*params, *extra),
    )


for _type in search.SEARCH_PARAMETERS:
    _search_route(_type)


@read.get(
    "/{resource_type}/{record_id}",
    summary="Read a Patient, Procedure or Observation",
    response_class=JSONResponse,
    responses={200: _RESOURCE, **ERRORS},
)
async def read_resource(
    principal: CasesRead,
    resource_type: Literal["Patient", "Procedure", "Observation"],
    record_id: uuid.UUID,
    session: SessionDep,
) -> JSONResponse:
    return _fhir(await service.render(session, resource_type, record_id))
