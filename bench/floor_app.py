"""The registry's per-request floor, for the ingestion benchmark: the registry app (same
middleware, authentication, audit trail and session handling) plus one no-op POST route that
takes the same body and touches no table itself. What the events endpoint costs above this is
the ingestion pipeline; what this costs above the bare app is the platform."""

from typing import Any

from fastapi import APIRouter, Body

from app.auth.dependencies import require
from app.auth.scopes import EVENTS_WRITE
from app.db import SessionDep
from app.main import create_app

app = create_app()
router = APIRouter(prefix="/bench", dependencies=[require(EVENTS_WRITE)])


@router.post("/noop", status_code=201)
async def noop(session: SessionDep, body: dict[str, Any] = Body()) -> dict[str, str]:
    return {"status": "created"}


app.include_router(router)
