"""create_app(): routers, error handlers, lifespan; nothing else."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from app import health
from app.cases.router import router as cases_router
from app.complications.router import router as complications_router
from app.db import get_engine
from app.errors import install_error_handlers
from app.follow_up.router import router as follow_up_router
from app.patients.router import router as patients_router
from app.procedures.router import router as procedures_router

DESCRIPTION = """
Records percutaneous vertebroplasty (and related spinal interventions) and follows their
outcomes: patients, procedure sessions (staged or repeated), vertebral levels treated,
complications and follow-up events (pain, analgesics with oral morphine equivalents,
performance status, imaging, other treatments, death).

* Every error is `application/problem+json` (RFC 9457) with a stable `type` and, for invalid
  input, the offending fields in `errors`.
* Lists are cursor-paginated: pass `next_cursor` back as `cursor`.
* Reads return an `ETag`; send it as `If-Match` on updates to refuse stale writes.
* Timestamps must carry a time zone.

Clinical rules follow the registry's domain reference (the source paper: Cardarelli-Leite et
al., 2021, vertebroplasty for intractable pain in children with spinal tumours).
"""

TAGS = [
    {"name": "patients", "description": "Patients and their external identifiers."},
    {"name": "procedures", "description": "Sessions, levels treated, work-up, staged series."},
    {"name": "complications", "description": "Adverse events graded by SIR and CIRSE."},
    {"name": "follow-up", "description": "Time-stamped observations after a procedure."},
    {"name": "cases", "description": "A patient's whole case in one call."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    await get_engine().dispose()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Vertebroplasty Outcomes Registry",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    for router in (
        patients_router,
        procedures_router,
        complications_router,
        follow_up_router,
        cases_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health.router)
    return app


app = create_app()
