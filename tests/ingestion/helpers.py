"""Event builders and counting helpers for the ingestion tests."""

from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import func, select

from app.db import get_sessionmaker
from app.models import Base

SOURCE = "urn:test:epic"
MRN = "urn:test:mrn"
EVENTS = "/api/v1/events"


def event(
    type_: str,
    event_id: str,
    data: dict[str, Any] | None = None,
    *,
    mrn: str = "MRN-1",
    at: str = "2019-02-20T10:00:00Z",
    source: str = SOURCE,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": source,
        "event_id": event_id,
        "type": type_,
        "occurred_at": at,
        "patient": {"system": MRN, "value": mrn},
    }
    if data is not None:
        body["data"] = data
    return body


def pain(
    event_id: str, value: float, *, at: str = "2019-02-20T10:00:00Z", **kw: Any
) -> dict[str, Any]:
    data = {"scale": "nrs11", "value": value, **kw.pop("data", {})}
    return event("pain.scored", event_id, data, at=at, **kw)


def procedure(
    event_id: str, ref: str, levels: list[str], *, at: str = "2019-02-12T09:30:00Z", **kw: Any
) -> dict[str, Any]:
    data = {
        "procedure_ref": ref,
        "kind": "vertebroplasty",
        "levels": [{"level": lv} for lv in levels],
        **kw.pop("data", {}),
    }
    return event("procedure.performed", event_id, data, at=at, **kw)


async def post(client: AsyncClient, body: Any, **kw: Any) -> Response:
    return await client.post(EVENTS, json=body, **kw)


async def count(model: type[Base], *where: Any) -> int:
    async with get_sessionmaker()() as session:
        stmt = select(func.count()).select_from(model)
        for clause in where:
            stmt = stmt.where(clause)
        return int(await session.scalar(stmt) or 0)
