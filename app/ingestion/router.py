import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from app.audit.dependencies import AuditDep
from app.common.http import Cursor, Limit
from app.common.pagination import Page
from app.common.schemas import UtcDatetime
from app.db import SessionDep, after_commit
from app.errors import DomainError, problem_responses
from app.http.guards import EventsWrite
from app.ingestion import log_reads, rejections, service
from app.ingestion.schemas import (
    EXAMPLE,
    BatchResult,
    EventResult,
    EventsBody,
    LoggedEvent,
    LoggedStatus,
)

REPLAYED_HEADER = "Idempotent-Replayed"
# the procedure of the examples (the per-type examples' and the FHIR door's)
PROCEDURE_REF = "OR-2019-0212-07"

router = APIRouter(prefix="/events", tags=["events"])


class UnsupportedMediaType(DomainError):
    def __init__(self, wanted: str) -> None:
        super().__init__(
            f"Send the body as {wanted} (Content-Type header).", "unsupported-media-type", 415
        )


def is_json(content_type: str | None, *extra: str) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return (
        media == "application/json"
        or media in extra
        or (media.startswith("application/") and media.endswith("+json"))
    )


async def json_body_only(request: Request, principal: EventsWrite) -> None:
    """A JSON body, or 415: judged once the guard it depends on has let the caller in."""
    if not is_json(request.headers.get("content-type")):
        raise UnsupportedMediaType("application/json")


DESCRIPTION = """
Clinical events from an EHR integration engine: one event, or `{"events": [...]}` (at most
`INGEST_BATCH_MAX_EVENTS`, default 1000; more is refused whole with **413**).

**Exactly once.** `(source, event_id)` is the idempotency key. The same event again returns
the original result (same ids) with status `replayed`, HTTP **200** and the header
`Idempotent-Replayed: true`, however many copies arrive at once. The same key with a different
payload is **409** and changes nothing.

**One event**: **201** created (**202** when it is a complication kept pending until its
procedure arrives), **200** replayed, or a problem+json (**422** invalid, **409** conflict).

**A batch** is always answered **200** when it could be read: each event has its own result in
`results` (same order): `created`, `replayed` or `rejected` with its problem. Valid events are
stored even when others are rejected; nothing is stored from a rejected event. Malformed JSON
(400), a body that is not a batch or an event (422), too many events (413), a body too large
(413) and a wrong Content-Type (415) refuse the whole request.

**Out of order.** An unknown patient identifier creates the patient; a follow-up naming a
`procedure_ref` that has not arrived is stored and linked when the procedure arrives; a
complication waits (`pending`) for its procedure; `event.retracted` may even arrive before
the event it retracts. Derived values (episodes, trajectories, triggers) use `occurred_at`.
"""


@router.post(
    "",
    summary="Ingest one clinical event or a batch (idempotent, out-of-order safe)",
    description=DESCRIPTION,
    dependencies=[Depends(json_body_only)],
    response_model=None,
    status_code=201,
    responses={
        200: {
            "model": BatchResult | EventResult,
            "description": "A batch (per-event results), or one event replayed.",
        },
        201: {"model": EventResult, "description": "The event was accepted now."},
        202: {"model": EventResult, "description": "A complication waiting for its procedure."},
        **problem_responses(400, 401, 403, 409, 413, 415, 422, 429, 503),
    },
)
async def post_events(
    principal: EventsWrite,
    body: Annotated[
        EventsBody,
        Body(
            openapi_examples={
                "one event": {
                    "value": {
                        **EXAMPLE,
                        "event_id": "evt-000123",
                        "occurred_at": "2019-02-26T10:00:00Z",
                        "type": "pain.scored",
                        "data": {"scale": "nrs11", "value": 2, "procedure_ref": PROCEDURE_REF},
                    }
                },
                "a batch": {
                    "value": {
                        "events": [
                            {
                                **EXAMPLE,
                                "type": "pain.scored",
                                "event_id": "evt-000124",
                                "occurred_at": "2019-03-12T10:00:00Z",
                                "data": {"value": 2, "procedure_ref": PROCEDURE_REF},
                            },
                            {
                                **EXAMPLE,
                                "type": "performance.scored",
                                "event_id": "evt-000125",
                                "occurred_at": "2019-03-12T10:00:00Z",
                                "data": {"scale": "lansky", "value": 80},
                            },
                        ]
                    }
                },
            }
        ),
    ],
    session: SessionDep,
    audit: AuditDep,
) -> JSONResponse:
    try:
        outcome = await service.ingest(session, body, audit)
    except DomainError as exc:
        if exc.code not in rejections.NOT_REJECTIONS:
            await session.rollback()  # release the request's locks before the side write
            await rejections.write_rejections(rejections.single_rows(body, exc, principal.id))
        raise
    if isinstance(outcome, service.Batch):
        rows = rejections.batch_rows(body, outcome.result.results, principal.id)
        if rows:
            after_commit(session, partial(rejections.write_rejections, rows))
        return JSONResponse(outcome.result.model_dump(mode="json", exclude_none=True))
    result = outcome.result
    headers = {REPLAYED_HEADER: "true"} if result.status == "replayed" else {}
    return JSONResponse(
        result.model_dump(mode="json", exclude_none=True),
        status_code=result.http_status,
        headers=headers,
    )


LOG_DESCRIPTION = """
What became of the events sent: the event log, newest last, a page at a time. Filter by
`source` and `event_id` to look one up, by `status=pending` for complications still waiting
for their procedure, by `awaiting_procedure=true` for follow-ups whose `procedure_ref` has not
arrived, or by `status=failed`. Each item carries the payload as received and the ids it
produced, and `warnings` for what it leaves incomplete.

Refused events are listed too, after the accepted ones, with `status: rejected` and the
`problem` they were answered (`status=rejected` lists only them; `event_id=` finds an event
whatever became of it; `identifier=` takes the patient's MRN). Rejections are kept for
EVENT_REJECTIONS_RETENTION_DAYS (90 by default); a body that is not JSON is not logged.
"""


@router.get(
    "",
    response_model=Page[LoggedEvent],
    response_model_exclude_none=True,
    summary="List logged events and what became of them",
    description=LOG_DESCRIPTION,
    responses=problem_responses(401, 403, 422),
)
async def list_logged_events(
    principal: EventsWrite,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    source: str | None = None,
    event_id: str | None = None,
    type: Annotated[str | None, Query(description="e.g. pain.scored")] = None,
    status: LoggedStatus | None = None,
    awaiting_procedure: bool | None = None,
    patient_id: uuid.UUID | None = None,
    identifier: Annotated[
        str | None, Query(max_length=200, description="The patient's MRN (an identifier value).")
    ] = None,
    received_from: UtcDatetime | None = None,
    received_to: UtcDatetime | None = None,
) -> Page[LoggedEvent]:
    found = log_reads.LogFilter(
        source=source,
        event_id=event_id,
        type_=type,
        status=status,
        awaiting_procedure=awaiting_procedure,
        patient_id=patient_id,
        identifier=identifier,
        received_from=received_from,
        received_to=received_to,
    )
    items, next_cursor = await log_reads.list_logged(session, found, cursor, limit)
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{log_id}",
    response_model=LoggedEvent,
    response_model_exclude_none=True,
    summary="Read one logged event (by the id of its log row)",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_logged_event(
    principal: EventsWrite, log_id: uuid.UUID, session: SessionDep
) -> LoggedEvent:
    return await log_reads.get_logged(session, log_id)
