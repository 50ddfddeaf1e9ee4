import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.common.http import Cursor, IfMatch, Limit, expected_version, set_etag
from app.common.pagination import Page
from app.db import SessionDep
from app.errors import NotFound, problem_responses
from app.http.guards import CasesRead, CasesWrite, EventsWrite
from app.models import Patient
from app.patients import service
from app.patients.schemas import PatientCreate, PatientMatch, PatientRead, PatientUpdate

router = APIRouter(prefix="/patients", tags=["patients"])


@router.post(
    "",
    status_code=201,
    response_model=PatientRead,
    summary="Register a patient",
    responses=problem_responses(409, 422),
)
async def create_patient(
    principal: CasesWrite, body: PatientCreate, session: SessionDep, response: Response
) -> Patient:
    patient = await service.create_patient(session, body)
    response.headers["Location"] = f"/api/v1/patients/{patient.id}"
    set_etag(response, patient.version)
    return patient


@router.get("", response_model=Page[PatientRead], summary="List patients")
async def list_patients(
    principal: CasesRead,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    histology: Annotated[str | None, Query(max_length=120)] = None,
    identifier_system: Annotated[str | None, Query(max_length=200)] = None,
    identifier_value: Annotated[
        str | None, Query(max_length=200, description="Exact match on an external identifier.")
    ] = None,
) -> Page[PatientRead]:
    rows, next_cursor = await service.list_patients(
        session,
        histology=histology,
        identifier_system=identifier_system,
        identifier_value=identifier_value,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[PatientRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/by-identifier",
    response_model=PatientMatch,
    summary="Find a patient's registry id by an external identifier (an MRN)",
    description="For integration engines (`events:write`): the registry id of the patient "
    "holding exactly this identifier, and nothing else about them. 404 when nobody does.",
    responses=problem_responses(404, 422),
)
async def find_patient(
    principal: EventsWrite,
    session: SessionDep,
    system: Annotated[str, Query(min_length=1, max_length=200)],
    value: Annotated[str, Query(min_length=1, max_length=200)],
) -> PatientMatch:
    patient = await service.find_by_identifier(session, system, value)
    if patient is None:
        raise NotFound("Patient with identifier", f"{system}|{value}")
    return PatientMatch(id=patient.id, system=system, value=value)


@router.get(
    "/{patient_id}",
    response_model=PatientRead,
    summary="Read a patient",
    responses=problem_responses(404),
)
async def read_patient(
    principal: CasesRead, patient_id: uuid.UUID, session: SessionDep, response: Response
) -> Patient:
    patient = await service.get_patient(session, patient_id)
    set_etag(response, patient.version)
    return patient


@router.patch(
    "/{patient_id}",
    response_model=PatientRead,
    summary="Update a patient",
    responses=problem_responses(404, 409, 422),
)
async def update_patient(
    principal: CasesWrite,
    patient_id: uuid.UUID,
    body: PatientUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Patient:
    patient = await service.update_patient(session, patient_id, body, expected_version(if_match))
    set_etag(response, patient.version)
    return patient
