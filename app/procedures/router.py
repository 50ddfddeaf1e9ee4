import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.clinical.enums import ProcedureKind
from app.common.http import Cursor, IfMatch, Limit, expected_version, set_etag
from app.common.pagination import Page
from app.common.schemas import UtcDatetime
from app.db import SessionDep
from app.errors import problem_responses
from app.http.guards import CasesRead, CasesWrite
from app.models import LevelTreated
from app.procedures import service
from app.procedures.schemas import (
    LevelIn,
    LevelRead,
    LevelUpdate,
    ProcedureCreate,
    ProcedureRead,
    ProcedureUpdate,
    SeriesCreate,
    SeriesRead,
)

router = APIRouter(tags=["procedures"])


@router.post(
    "/procedures",
    status_code=201,
    response_model=ProcedureRead,
    summary="Record a procedure session with its levels and work-up",
    responses=problem_responses(409, 422),
)
async def create_procedure(
    principal: CasesWrite, body: ProcedureCreate, session: SessionDep, response: Response
) -> ProcedureRead:
    procedure = await service.create_procedure(session, body)
    response.headers["Location"] = f"/api/v1/procedures/{procedure.id}"
    set_etag(response, procedure.version)
    return service.to_read(procedure)


@router.get("/procedures", response_model=Page[ProcedureRead], summary="List procedures")
async def list_procedures(
    principal: CasesRead,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    patient_id: uuid.UUID | None = None,
    kind: ProcedureKind | None = None,
    level: Annotated[str | None, Query(max_length=3, description="e.g. L3")] = None,
    performed_from: UtcDatetime | None = None,
    performed_to: UtcDatetime | None = None,
) -> Page[ProcedureRead]:
    rows, next_cursor = await service.list_procedures(
        session,
        patient_id=patient_id,
        kind=kind,
        level=level,
        performed_from=performed_from,
        performed_to=performed_to,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[service.to_read(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/procedures/{procedure_id}",
    response_model=ProcedureRead,
    summary="Read a procedure",
    responses=problem_responses(404),
)
async def read_procedure(
    principal: CasesRead, procedure_id: uuid.UUID, session: SessionDep, response: Response
) -> ProcedureRead:
    procedure = await service.get_procedure(session, procedure_id)
    set_etag(response, procedure.version)
    return service.to_read(procedure)


@router.patch(
    "/procedures/{procedure_id}",
    response_model=ProcedureRead,
    summary="Update a procedure",
    responses=problem_responses(404, 409, 422),
)
async def update_procedure(
    principal: CasesWrite,
    procedure_id: uuid.UUID,
    body: ProcedureUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ProcedureRead:
    procedure = await service.update_procedure(
        session, procedure_id, body, expected_version(if_match)
    )
    set_etag(response, procedure.version)
    return service.to_read(procedure)


@router.post(
    "/procedures/{procedure_id}/levels",
    status_code=201,
    response_model=LevelRead,
    summary="Add a treated level to a procedure",
    responses=problem_responses(404, 409, 422),
)
async def add_level(
    principal: CasesWrite, procedure_id: uuid.UUID, body: LevelIn, session: SessionDep
) -> LevelTreated:
    return await service.add_level(session, procedure_id, body)


@router.patch(
    "/procedures/{procedure_id}/levels/{level_id}",
    response_model=LevelRead,
    summary="Update a treated level (approach, needle, cement, leakage)",
    responses=problem_responses(404, 422),
)
async def update_level(
    principal: CasesWrite,
    procedure_id: uuid.UUID,
    level_id: uuid.UUID,
    body: LevelUpdate,
    session: SessionDep,
) -> LevelTreated:
    return await service.update_level(session, procedure_id, level_id, body)


@router.post(
    "/procedure-series",
    status_code=201,
    response_model=SeriesRead,
    summary="Plan a staged series; its sessions are procedures with series_id and stage_number",
    responses=problem_responses(422),
)
async def create_series(
    principal: CasesWrite, body: SeriesCreate, session: SessionDep
) -> SeriesRead:
    series = await service.create_series(session, body)
    return SeriesRead.model_validate(series)


@router.get(
    "/procedure-series/{series_id}",
    response_model=SeriesRead,
    summary="Read a staged series and its sessions",
    responses=problem_responses(404),
)
async def read_series(
    principal: CasesRead, series_id: uuid.UUID, session: SessionDep
) -> SeriesRead:
    series, procedure_ids = await service.get_series(session, series_id)
    return SeriesRead.model_validate(
        {**SeriesRead.model_validate(series).model_dump(), "procedure_ids": procedure_ids}
    )
