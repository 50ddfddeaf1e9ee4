"""The registry's per-request floor, for the ingestion benchmark: the registry app (same
middleware, authentication, audit trail and session handling) plus one no-op POST route that
takes the same body and touches no table itself. What the events endpoint costs above this is
the ingestion pipeline; what this costs above the bare app is the platform."""

from typing import Any

from fastapi import APIRouter, Body, FastAPI

from app.db import SessionDep
from app.http.guards import EventsWrite
from app.main import create_app as create_registry

router = APIRouter(prefix="/bench")


@router.post("/noop", status_code=201)
async def noop(
    principal: EventsWrite, session: SessionDep, body: dict[str, Any] = Body()
) -> dict[str, str]:
    return {"status": "created"}


def create_app() -> FastAPI:
    """For `uvicorn --factory bench.floor_app:create_app`."""
    app = create_registry()
    app.include_router(router)
    return app
