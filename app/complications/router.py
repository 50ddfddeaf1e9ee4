import uuid

from fastapi import APIRouter, Response

from app.common.http import Cursor, IfMatch, Limit, expected_version, set_etag
from app.common.pagination import Page
from app.complications import service
from app.complications.schemas import ComplicationCreate, ComplicationRead, ComplicationUpdate
from app.db import SessionDep
from app.errors import problem_responses
from app.http.guards import CasesRead, CasesWrite
from app.models import Complication

router = APIRouter(prefix="/complications", tags=["complications"])


@router.post(
    "",
    status_code=201,
    response_model=ComplicationRead,
    summary="Report a complication of a procedure",
    responses=problem_responses(422),
)
async def create_complication(
    principal: CasesWrite, body: ComplicationCreate, session: SessionDep, response: Response
) -> Complication:
    complication = await service.create_complication(session, body)
    response.headers["Location"] = f"/api/v1/complications/{complication.id}"
    set_etag(response, complication.version)
    return complication


@router.get("", response_model=Page[ComplicationRead], summary="List complications")
async def list_complications(
    principal: CasesRead,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    procedure_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
) -> Page[ComplicationRead]:
    rows, next_cursor = await service.list_complications(
        session, procedure_id=procedure_id, patient_id=patient_id, cursor=cursor, limit=limit
    )
    return Page(items=[ComplicationRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{complication_id}",
    response_model=ComplicationRead,
    summary="Read a complication",
    responses=problem_responses(404),
)
async def read_complication(
    principal: CasesRead, complication_id: uuid.UUID, session: SessionDep, response: Response
) -> Complication:
    complication = await service.get_complication(session, complication_id)
    set_etag(response, complication.version)
    return complication


@router.patch(
    "/{complication_id}",
    response_model=ComplicationRead,
    summary="Update a complication",
    responses=problem_responses(404, 409, 422),
)
async def update_complication(
    principal: CasesWrite,
    complication_id: uuid.UUID,
    body: ComplicationUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Complication:
    complication = await service.update_complication(
        session, complication_id, body, expected_version(if_match)
    )
    set_etag(response, complication.version)
    return complication
