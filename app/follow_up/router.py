import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Response

from app.clinical.enums import FollowUpKind
from app.common.http import Cursor, IfMatch, Limit, expected_version, set_etag
from app.common.pagination import Page
from app.common.schemas import UtcDatetime
from app.db import SessionDep
from app.errors import problem_responses
from app.follow_up import service
from app.follow_up.schemas import FollowUpCreate, FollowUpRead
from app.http.guards import CasesRead, CasesWrite
from app.models import FollowUpEvent

router = APIRouter(prefix="/follow-ups", tags=["follow-up"])

FollowUpBody = Annotated[FollowUpCreate, Body()]


@router.post(
    "",
    status_code=201,
    response_model=FollowUpRead,
    summary="Record a follow-up observation (pain, medication, performance, imaging, ...)",
    responses=problem_responses(409, 422),
)
async def create_follow_up(
    principal: CasesWrite, body: FollowUpBody, session: SessionDep, response: Response
) -> FollowUpEvent:
    event = await service.create_follow_up(session, body)
    response.headers["Location"] = f"/api/v1/follow-ups/{event.id}"
    set_etag(response, event.version)
    return event


@router.get("", response_model=Page[FollowUpRead], summary="List follow-up events")
async def list_follow_ups(
    principal: CasesRead,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    patient_id: uuid.UUID | None = None,
    procedure_id: uuid.UUID | None = None,
    kind: FollowUpKind | None = None,
    occurred_from: UtcDatetime | None = None,
    occurred_to: UtcDatetime | None = None,
) -> Page[FollowUpRead]:
    rows, next_cursor = await service.list_follow_ups(
        session,
        patient_id=patient_id,
        procedure_id=procedure_id,
        kind=kind,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[FollowUpRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{event_id}",
    response_model=FollowUpRead,
    summary="Read a follow-up event",
    responses=problem_responses(404),
)
async def read_follow_up(
    principal: CasesRead, event_id: uuid.UUID, session: SessionDep, response: Response
) -> FollowUpEvent:
    event = await service.get_follow_up(session, event_id)
    set_etag(response, event.version)
    return event


@router.put(
    "/{event_id}",
    response_model=FollowUpRead,
    summary="Correct a follow-up event (the whole event is replaced; kind and patient stay)",
    responses=problem_responses(404, 409, 422),
)
async def replace_follow_up(
    principal: CasesWrite,
    event_id: uuid.UUID,
    body: FollowUpBody,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> FollowUpEvent:
    event = await service.replace_follow_up(session, event_id, body, expected_version(if_match))
    set_etag(response, event.version)
    return event
