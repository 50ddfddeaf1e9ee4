"""/subscriptions (webhooks) and /webhook-deliveries (the delivery log, redeliver).

Every route takes the `admin` scope (`Admin`, in its signature).
"""

import uuid
from typing import Literal

from fastapi import APIRouter, Response

from app.common.http import Cursor, IfMatch, Limit, expected_version, set_etag
from app.common.pagination import Page
from app.db import SessionDep
from app.errors import problem_responses
from app.http.guards import Admin
from app.notifications import service
from app.notifications.schemas import (
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
    SubscriptionUpdate,
)

router = APIRouter(tags=["notifications"])


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    summary="Register a webhook: URL, events wanted, secret (returned once)",
    responses=problem_responses(422),
)
async def create_subscription(
    principal: Admin, body: SubscriptionCreate, session: SessionDep, response: Response
) -> SubscriptionCreated:
    subscription = await service.create_subscription(session, body)
    response.headers["Location"] = f"/api/v1/subscriptions/{subscription.id}"
    set_etag(response, subscription.version)
    return SubscriptionCreated.model_validate(subscription)


@router.get("/subscriptions", response_model=Page[SubscriptionRead], summary="List webhooks")
async def list_subscriptions(
    principal: Admin,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    active: bool | None = None,
) -> Page[SubscriptionRead]:
    rows, next_cursor = await service.list_subscriptions(
        session, active=active, cursor=cursor, limit=limit
    )
    return Page(items=[SubscriptionRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    summary="Read a webhook subscription",
    responses=problem_responses(404),
)
async def read_subscription(
    principal: Admin, subscription_id: uuid.UUID, session: SessionDep, response: Response
) -> SubscriptionRead:
    subscription = await service.get_subscription(session, subscription_id)
    set_etag(response, subscription.version)
    return SubscriptionRead.model_validate(subscription)


@router.patch(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    summary="Change a webhook: URL, events, active, secret",
    responses=problem_responses(404, 409, 412, 422, 428),
)
async def update_subscription(
    principal: Admin,
    subscription_id: uuid.UUID,
    body: SubscriptionUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> SubscriptionRead:
    subscription = await service.update_subscription(
        session, subscription_id, body, expected_version(if_match)
    )
    set_etag(response, subscription.version)
    return SubscriptionRead.model_validate(subscription)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    summary="Disable a webhook (its delivery log stays)",
    responses=problem_responses(404),
)
async def disable_subscription(
    principal: Admin, subscription_id: uuid.UUID, session: SessionDep
) -> Response:
    await service.disable_subscription(session, subscription_id)
    return Response(status_code=204)


@router.get(
    "/webhook-deliveries",
    response_model=Page[DeliveryRead],
    summary="The delivery log: every outbox message and its attempts",
)
async def list_deliveries(
    principal: Admin,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    subscription_id: uuid.UUID | None = None,
    trigger_id: uuid.UUID | None = None,
    status: Literal["pending", "delivered", "dead"] | None = None,
) -> Page[DeliveryRead]:
    items, next_cursor = await service.list_deliveries(
        session,
        subscription_id=subscription_id,
        trigger_id=trigger_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/webhook-deliveries/{message_id}",
    response_model=DeliveryRead,
    summary="One message and its attempts",
    responses=problem_responses(404),
)
async def read_delivery(
    principal: Admin, message_id: uuid.UUID, session: SessionDep
) -> DeliveryRead:
    return await service.get_delivery(session, message_id)


@router.post(
    "/webhook-deliveries/{message_id}/redeliver",
    status_code=202,
    response_model=DeliveryRead,
    summary="Queue a dead (or delivered) message again, with the same id and body",
    responses=problem_responses(404, 409),
)
async def redeliver(principal: Admin, message_id: uuid.UUID, session: SessionDep) -> DeliveryRead:
    return await service.redeliver(session, message_id)
