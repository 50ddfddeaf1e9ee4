from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from app.audit.dependencies import AuditDep
from app.auth.dependencies import require
from app.auth.scopes import EVENTS_WRITE
from app.db import SessionDep
from app.errors import DomainError, problem_responses
from app.ingestion import service
from app.ingestion.schemas import EXAMPLE, BatchResult, EventResult, EventsBody

REPLAYED_HEADER = "Idempotent-Replayed"

router = APIRouter(prefix="/events", tags=["events"], dependencies=[require(EVENTS_WRITE)])


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


async def json_body_only(request: Request) -> None:
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
    body: Annotated[
        EventsBody,
        Body(
            openapi_examples={
                "one event": {
                    "value": {
                        **EXAMPLE,
                        "type": "pain.scored",
                        "data": {"scale": "nrs11", "value": 5, "procedure_ref": "OR-7"},
                    }
                },
                "a batch": {
                    "value": {
                        "events": [
                            {
                                **EXAMPLE,
                                "type": "procedure.performed",
                                "event_id": "evt-000100",
                                "occurred_at": "2019-02-12T09:30:00Z",
                                "data": {
                                    "procedure_ref": "OR-7",
                                    "kind": "vertebroplasty",
                                    "levels": [{"level": "T7"}, {"level": "T12"}],
                                },
                            },
                            {
                                **EXAMPLE,
                                "type": "pain.scored",
                                "data": {"value": 5, "procedure_ref": "OR-7"},
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
    outcome = await service.ingest(session, body, audit)
    if isinstance(outcome, service.Batch):
        return JSONResponse(outcome.result.model_dump(mode="json", exclude_none=True))
    result = outcome.result
    headers = {REPLAYED_HEADER: "true"} if result.status == "replayed" else {}
    return JSONResponse(
        result.model_dump(mode="json", exclude_none=True),
        status_code=result.http_status,
        headers=headers,
    )
