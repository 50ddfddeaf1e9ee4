"""create_app(): routers, error handlers, lifespan; nothing else.

Nothing here builds the application at import time: servers call the factory
(`uvicorn --factory app.main:create_app`, which `vertebro serve` runs).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import health
from app.access.router import router as access_router
from app.cases.router import router as cases_router
from app.common import jobs
from app.common.ratelimit import RateLimits
from app.complications.router import router as complications_router
from app.config import Settings, get_settings
from app.db import get_engine, get_sessionmaker
from app.docs import SWAGGER_UI_PARAMETERS, install_docs
from app.errors import install_error_handlers
from app.errors.pages import router as problems_router
from app.follow_up.router import router as follow_up_router
from app.gc_tuning import tune_gc
from app.hl7.router import router as hl7_router
from app.http.authenticator import authenticated_first
from app.http.idempotency import IdempotencyKeyMiddleware, IdempotentReplay, answer_replay
from app.ingestion.fhir.bulk_router import router as fhir_bulk_router
from app.ingestion.fhir.router import read as fhir_read_router
from app.ingestion.fhir.router import write as fhir_write_router
from app.ingestion.jobs import BULK_EXPORT, REJECTIONS_PURGE
from app.ingestion.router import router as events_router
from app.logs import configure_logging
from app.middleware import install_middleware
from app.notifications.jobs import webhook_delivery
from app.notifications.router import router as notifications_router
from app.observability.wiring import install as install_observability
from app.outcomes.router import router as outcomes_router
from app.patients.router import router as patients_router
from app.procedures.router import router as procedures_router
from app.triggers import webhooks
from app.triggers.jobs import TRIGGER_SWEEP
from app.triggers.router import router as triggers_router
from app.web.router import install_web
from app.worklist.router import router as worklist_router

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
* Every route but `/health`, `/ready`, `/fhir/r4/metadata` and these docs needs a credential:
  an API key as `Authorization: Bearer <key>` or `X-API-Key` (use **Authorize**; `make run`
  prints a local admin key), or an OAuth2 access token. Each route lists the scopes it
  needs. Updates need `If-Match` (428 without it, 412 when stale).
* POSTs accept an `Idempotency-Key` header: a retry with the same key gets the first answer
  (`Idempotent-Replayed: true`) instead of a second effect. `/api/v1/events` needs none: each
  event's `(source, event_id)` is its key.

Clinical rules follow the registry's domain reference (the source paper: Cardarelli-Leite et
al., 2021, vertebroplasty for intractable pain in children with spinal tumours).
"""

TAGS = [
    {"name": "patients", "description": "Patients and their external identifiers."},
    {"name": "procedures", "description": "Sessions, levels treated, work-up, staged series."},
    {"name": "complications", "description": "Adverse events graded by SIR and CIRSE."},
    {"name": "follow-up", "description": "Time-stamped observations after a procedure."},
    {"name": "cases", "description": "A patient's whole case in one call."},
    {
        "name": "imaging triggers",
        "description": "When the treated vertebra needs imaging (no improvement at 2 weeks, "
        "follow-up overdue, worsening after improvement), and what was done about it.",
    },
    {
        "name": "worklist",
        "description": "The follow-up worklist: pain scores due at the protocol's time points "
        "and imaging triggers to act on, most urgent first.",
    },
    {"name": "notifications", "description": "Webhooks for trigger events and their delivery log."},
    {
        "name": "statistics",
        "description": "Aggregate outcomes for dashboards (stats:read suppresses small cells; "
        "stats:research is exact).",
    },
    {"name": "access", "description": "API keys and the audit trail (scope `admin`)."},
    {
        "name": "events",
        "description": "EHR event ingestion: idempotent, batched, out-of-order safe "
        "(scope `events:write`).",
    },
    {
        "name": "fhir",
        "description": "The FHIR R4 door (`/fhir/r4`): Patient, Procedure and Observation "
        "creates and Bundles (`events:write`); reads, search, `$everything` and `$transfer` "
        "(`cases:read`); `metadata` (open). Errors are OperationOutcome.",
    },
    {
        "name": "hl7v2",
        "description": "HL7 v2 messages (ER7) in, ACKs out (`events:write`); see docs/hl7v2.md.",
    },
    {"name": "health", "description": "Liveness and readiness probes."},
]


def background_jobs(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> jobs.Background:
    """Each area's jobs (`<area>/jobs.py`); each runs when its setting enables it."""
    return jobs.Background(
        sessionmaker,
        settings,
        (TRIGGER_SWEEP, webhook_delivery(webhooks.payload), REJECTIONS_PURGE, BULK_EXPORT),
    )


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    tune_gc(get_settings())
    # the imaging-trigger sweep, the webhook worker, the purge of old refused events
    background = background_jobs(get_sessionmaker(), get_settings())
    background.start()
    _app.state.background = background
    try:
        yield
    finally:
        await background.close()
        await get_engine().dispose()


def create_app() -> FastAPI:
    settings = get_settings()
    if problems := settings.production_problems():
        raise RuntimeError("refusing to start in production: " + "; ".join(problems))
    configure_logging(settings)
    app = FastAPI(
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        # /docs and /redoc load their assets from the app, not a CDN (app.docs)
        docs_url=None,
        redoc_url=None,
        title="Vertebroplasty Outcomes Registry",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        # Starlette builds a trailing-slash redirect from the request's Host header
        redirect_slashes=False,
    )
    install_error_handlers(app)
    # FastAPI refuses a malformed body before the route's guard runs: authenticate first
    app.add_exception_handler(
        RequestValidationError,
        authenticated_first(app.exception_handlers[RequestValidationError]),
    )
    app.add_middleware(
        IdempotencyKeyMiddleware,
        exclude=("/api/v1/events",),  # each event carries its own key
        unsupported=("/api/v1/api-keys", "/api/v1/subscriptions"),  # secrets shown once
    )
    install_middleware(app, settings)
    install_observability(app, settings)  # /metrics, request metrics, tracing if configured
    app.state.rate_limits = RateLimits(settings)
    app.add_exception_handler(IdempotentReplay, answer_replay)
    # each route declares its scope in its signature (app.http.guards): routers are included
    # as they are
    api = APIRouter(prefix="/api/v1")
    api.include_router(events_router)  # first: the busiest route is matched without a search
    for router in (
        patients_router,
        procedures_router,
        complications_router,
        follow_up_router,
        cases_router,
        triggers_router,
        worklist_router,
        notifications_router,
        outcomes_router,
        access_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(fhir_write_router)
    app.include_router(hl7_router)
    app.include_router(fhir_bulk_router)  # before the reads: /Patient/$export is no read
    app.include_router(fhir_read_router)
    app.include_router(health.router)
    app.include_router(problems_router)  # the problem-type catalogue (open, not in the schema)
    install_docs(app)
    install_web(app)  # the pages under /app, and / leading there
    return app
