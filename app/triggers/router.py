"""/imaging-triggers: the records the imaging rules leave, and their lifecycle.

Each route declares its scope in its signature: reads take `triggers:read` (which `cases:read`
and `triggers:manage` imply), transitions `triggers:manage`; a transition is attributed to the
credential that made it. Every answer, a transition's too, carries the case data behind a
trigger (levels, dates, scores) only for a credential with `cases:read`.
"""

import uuid

from fastapi import APIRouter, Query, Response

from app.auth.principal import Principal
from app.auth.scopes import CASES_READ
from app.clinical.enums import TriggerRule, TriggerStatus
from app.common.http import Cursor, IfMatch, Limit, expected_version, set_etag
from app.common.pagination import Page
from app.common.schemas import UtcDatetime
from app.db import SessionDep
from app.errors import problem_responses
from app.http.guards import TriggersManage, TriggersRead
from app.triggers import lifecycle, reads
from app.triggers.reads import TriggerDetails
from app.triggers.schemas import ImagingTriggerRead, TransitionIn, to_read

router = APIRouter(prefix="/imaging-triggers", tags=["imaging triggers"])


def _read(d: TriggerDetails, principal: Principal) -> ImagingTriggerRead:
    return to_read(d, case_data=principal.has(CASES_READ))


@router.get(
    "",
    response_model=Page[ImagingTriggerRead],
    response_model_exclude_unset=True,
    summary="List imaging triggers",
)
async def list_triggers(
    session: SessionDep,
    principal: TriggersRead,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: TriggerStatus | None = None,
    rule: TriggerRule | None = None,
    patient_id: uuid.UUID | None = None,
    procedure_id: uuid.UUID | None = Query(
        None, description="Triggers of the episode this procedure belongs to."
    ),
    due_from: UtcDatetime | None = None,
    due_to: UtcDatetime | None = None,
    as_of: UtcDatetime | None = Query(
        None, description="What was due at this time: due by then and not yet closed then."
    ),
) -> Page[ImagingTriggerRead]:
    rows, next_cursor = await reads.list_triggers(
        session,
        status=status,
        rule=rule,
        patient_id=patient_id,
        procedure_id=procedure_id,
        due_from=due_from,
        due_to=due_to,
        as_of=as_of,
        cursor=cursor,
        limit=limit,
    )
    items = [_read(d, principal) for d in await reads.details(session, rows)]
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{trigger_id}",
    response_model=ImagingTriggerRead,
    response_model_exclude_unset=True,
    summary="Read an imaging trigger with its history (and evidence, with cases:read)",
    responses=problem_responses(404),
)
async def read_trigger(
    trigger_id: uuid.UUID, session: SessionDep, response: Response, principal: TriggersRead
) -> ImagingTriggerRead:
    trigger = await lifecycle.get_trigger(session, trigger_id)
    set_etag(response, trigger.version)
    return _read((await reads.details(session, [trigger]))[0], principal)


@router.post(
    "/{trigger_id}/transitions",
    response_model=ImagingTriggerRead,
    response_model_exclude_unset=True,
    summary="Move a trigger on: acknowledged, imaging_ordered, resolved, or dismissed (reason)",
    responses=problem_responses(404, 409, 412, 422, 428),
)
async def transition(
    trigger_id: uuid.UUID,
    body: TransitionIn,
    session: SessionDep,
    response: Response,
    principal: TriggersManage,
    if_match: IfMatch = None,
) -> ImagingTriggerRead:
    actor = principal.label if not body.actor else f"{body.actor} (via {principal.label})"
    trigger = await lifecycle.transition(
        session, trigger_id, body.to, actor, body.reason, expected_version(if_match)
    )
    set_etag(response, trigger.version)
    return _read((await reads.details(session, [trigger]))[0], principal)
