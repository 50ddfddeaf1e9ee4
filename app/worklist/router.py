"""/worklist: the follow-up worklist (scope cases:read; acting on a trigger row takes
triggers:manage at /imaging-triggers/{id}/transitions with the row's `etag` as If-Match)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.clinical.definitions import current
from app.common.http import Limit
from app.common.schemas import UtcDatetime
from app.db import SessionDep
from app.errors import problem_responses
from app.http.csv import CsvFormat, csv_response, csv_responses, wants_csv
from app.http.guards import CasesRead
from app.worklist import service
from app.worklist.columns import COLUMNS
from app.worklist.schemas import WorklistKind, WorklistPage, WorklistQuery

router = APIRouter(prefix="/worklist", tags=["worklist"])


@router.get(
    "",
    response_model=WorklistPage,
    summary="The follow-up worklist: pain scores due and imaging triggers, most urgent first",
    responses={**csv_responses(COLUMNS, "The worklist page"), **problem_responses(422)},
)
async def get_worklist(
    principal: CasesRead,
    session: SessionDep,
    request: Request,
    limit: Limit = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` from the previous page.")
    ] = None,
    kind: Annotated[WorklistKind | None, Query(description="Only rows of this kind.")] = None,
    due_before: Annotated[
        UtcDatetime | None, Query(description="Rows due at or before this time.")
    ] = None,
    due_after: Annotated[
        UtcDatetime | None, Query(description="Rows due at or after this time.")
    ] = None,
    operator: Annotated[
        str | None,
        Query(max_length=120, description="Episodes with a session by this operator."),
    ] = None,
    level: Annotated[
        str | None, Query(max_length=3, description="Episodes treating this level, e.g. T9.")
    ] = None,
    as_of: Annotated[
        UtcDatetime | None,
        Query(
            description="Plan for this moment (default now): windows open then, triggers "
            "due by then."
        ),
    ] = None,
    format: CsvFormat = None,
) -> WorklistPage | Response:
    query = WorklistQuery(
        kind=kind,
        due_before=due_before,
        due_after=due_after,
        operator=operator,
        level=level,
        as_of=as_of,
        cursor=cursor,
        limit=limit,
    )
    page = await service.worklist(session, query, current())
    if wants_csv(request, format):
        headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else {}
        return csv_response(COLUMNS, page.items, "worklist.csv", headers)
    return page
