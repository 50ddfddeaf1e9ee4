"""What each route needs, declared in its endpoint's signature: one alias per scope.

    @router.post("")
    async def create_patient(principal: CasesWrite, body: PatientCreate, ...) -> ...: ...

An alias is the route's guard (`app.http.authenticator`: a valid credential holding the scope,
401/403 otherwise, audited either way) followed by the Idempotency-Key claim
(`app.http.idempotency`), which depends on the principal the guard returns: it runs only for
an authorised caller, and does nothing unless a POST under /api/v1 sent the header. The value
is that principal. The scope is the route's own, whatever its method; every route under
/api/v1 and /fhir takes exactly one alias (tests/auth/test_route_scopes.py).
"""

from typing import Annotated, Any

from app.auth.principal import Principal
from app.auth.scopes import (
    ADMIN,
    CASES_READ,
    CASES_WRITE,
    EVENTS_WRITE,
    METRICS_READ,
    STATS_READ,
    TRIGGERS_MANAGE,
    TRIGGERS_READ,
)
from app.http.authenticator import authenticator
from app.http.idempotency import claim_after


def require(*scopes: str) -> Any:
    """The dependency behind an alias: the guard for `scopes`, then the claim. For a route
    made by a test, `dependencies=[require(...)]`; the application's routes use the aliases."""
    return claim_after(authenticator(*scopes))


# patients, procedures, complications, follow-ups, cases; FHIR reads
CasesRead = Annotated[Principal, require(CASES_READ)]
CasesWrite = Annotated[Principal, require(CASES_WRITE)]
# imaging triggers: reading them, and moving them on
TriggersRead = Annotated[Principal, require(TRIGGERS_READ)]
TriggersManage = Annotated[Principal, require(TRIGGERS_MANAGE)]
# aggregate statistics (stats:research, which implies it, gets exact figures)
StatsRead = Annotated[Principal, require(STATS_READ)]
# EHR events and FHIR writes
EventsWrite = Annotated[Principal, require(EVENTS_WRITE)]
# API keys, webhook subscriptions and deliveries, the audit trail
Admin = Annotated[Principal, require(ADMIN)]
# the Prometheus scrape (/metrics, app.observability)
MetricsRead = Annotated[Principal, require(METRICS_READ)]
