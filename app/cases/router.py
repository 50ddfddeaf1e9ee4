import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.cases import service
from app.cases.schemas import CaseRead, CaseSummary
from app.clinical.enums import ProcedureKind
from app.common.http import Cursor, Limit
from app.common.pagination import Page
from app.common.schemas import UtcDatetime
from app.db import SessionDep
from app.errors import problem_responses
from app.http.csv import CsvFormat, csv_response, csv_responses, model_columns, wants_csv
from app.http.guards import CasesRead

router = APIRouter(prefix="/cases", tags=["cases"])


# the case list as CSV (app.http.csv): a row per patient
CASE_COLUMNS = model_columns(
    CaseSummary,
    units={"birth_date": "ISO 8601 date", "death_date": "ISO 8601 date",
           "first_procedure_at": "ISO 8601, UTC", "last_procedure_at": "ISO 8601, UTC"},
    descriptions={"levels": "Distinct vertebrae treated, craniocaudal, `;`-separated."},
)  # fmt: skip


@router.get(
    "",
    response_model=Page[CaseSummary],
    summary="List cases with a summary of each",
    responses=csv_responses(CASE_COLUMNS, "A page of cases"),
)
async def list_cases(
    principal: CasesRead,
    session: SessionDep,
    request: Request,
    format: CsvFormat = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    histology: Annotated[str | None, Query(max_length=120)] = None,
    level: Annotated[
        str | None, Query(max_length=3, description="A treated level, e.g. L3")
    ] = None,
    kind: ProcedureKind | None = None,
    performed_from: UtcDatetime | None = None,
    performed_to: UtcDatetime | None = None,
) -> Page[CaseSummary] | Response:
    items, next_cursor = await service.list_cases(
        session,
        histology=histology,
        level=level,
        kind=kind,
        performed_from=performed_from,
        performed_to=performed_to,
        cursor=cursor,
        limit=limit,
    )
    if wants_csv(request, format):
        more = {"X-Next-Cursor": next_cursor} if next_cursor else {}
        return csv_response(CASE_COLUMNS, items, "cases.csv", more)
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{patient_id}",
    response_model=CaseRead,
    summary="A patient's whole case: procedures, levels, complications, episodes, timeline",
    responses=problem_responses(404),
)
async def read_case(principal: CasesRead, patient_id: uuid.UUID, session: SessionDep) -> CaseRead:
    return await service.get_case(session, patient_id)
