"""The web pages under /app: each renders a template from a service's result (docs/web.md)."""

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import AuditDep
from app.auth.scopes import CASES_READ, CASES_WRITE, STATS_READ, STATS_RESEARCH, TRIGGERS_MANAGE
from app.auth.service import authenticate_key
from app.cases.service import get_case
from app.clinical.definitions import current
from app.clinical.enums import ProcedureKind, Sex
from app.common.schemas import UtcDatetime
from app.db import SessionDep
from app.errors import PreconditionFailed, RuleViolation, Unauthorized, register_error_renderer
from app.http.csv import csv_response, figures_csv
from app.outcomes.cohort import DEFAULT_KINDS, AgeBand, Cohort
from app.outcomes.query_space import period_dates
from app.outcomes.service import outcome_stats, pain_trajectory
from app.triggers import lifecycle
from app.web import case_view, dashboard_view, recording
from app.web.access import Visitor, page_access
from app.web.errors import render_page_error
from app.web.pages import ACTIONS, SIGN_IN, nav, page, render_worklist
from app.web.pages import to as go
from app.web.sessions import (
    COOKIE,
    SIGN_IN_COOKIE,
    cookie_flags,
    end_session,
    open_session,
    same,
)
from app.worklist.columns import COLUMNS as WORKLIST_COLUMNS
from app.worklist.schemas import WorklistKind, WorklistQuery
from app.worklist.service import worklist

T = TypeVar("T")
router = APIRouter(prefix="/app", include_in_schema=False)
register_error_renderer("/app/", render_page_error)
Viewer = Annotated[Visitor | None, page_access(CASES_READ)]
Manager = Annotated[Visitor | None, page_access(TRIGGERS_MANAGE)]
Writer = Annotated[Visitor | None, page_access(CASES_WRITE)]
Statistician = Annotated[Visitor | None, page_access(STATS_READ)]


@router.get("")
async def home() -> RedirectResponse:
    return go("/app/worklist")


@router.get("/sign-in")
async def sign_inpage(request: Request, error: str | None = None) -> HTMLResponse:
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(18)
    response = page(request, "sign_in.html", 401 if error else 200, token=token, error=error)
    response.set_cookie(SIGN_IN_COOKIE, token, max_age=3600, **cookie_flags())  # type: ignore[arg-type]
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request,
    session: SessionDep,
    audit: AuditDep,
    api_key: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE)
    if not expected or not same(csrf, expected):
        return page(request, "sign_in.html", 403, token=expected or "", error="expired-form")
    try:
        principal = await authenticate_key(session, api_key.strip())
    except Unauthorized:
        return page(request, "sign_in.html", 401, token=expected, error="rejected")
    audit.principal = principal
    _web, cookie = await open_session(session, principal.id)
    response = go("/app/worklist")
    response.set_cookie(COOKIE, cookie, **cookie_flags())  # type: ignore[arg-type]
    response.delete_cookie(SIGN_IN_COOKIE, path="/app")
    return response


@router.post("/sign-out")
async def sign_out(
    visitor: Viewer, session: SessionDep, csrf: Annotated[str, Form(max_length=100)]
) -> Response:
    if visitor is not None and same(csrf, visitor.session.csrf):
        await end_session(session, visitor.session)
    response = go(SIGN_IN)
    response.delete_cookie(COOKIE, path="/app")
    return response


@router.get("/worklist")
async def worklistpage(
    request: Request,
    visitor: Viewer,
    session: SessionDep,
    done: str | None = None,
    stale: str | None = None,
    refused: str | None = None,
    as_of: UtcDatetime | None = None,
    kind: WorklistKind | None = None,
) -> Response:
    if visitor is None:
        return go(SIGN_IN)
    query = WorklistQuery(limit=200, as_of=as_of, kind=kind)
    return await render_worklist(
        request, visitor, session, query, done=done, stale=stale, refused=refused
    )


@router.get("/worklist.csv")
async def worklist_csv(
    visitor: Viewer,
    session: SessionDep,
    as_of: UtcDatetime | None = None,
    kind: WorklistKind | None = None,
) -> Response:
    """The API's worklist CSV (same service, columns and scope) for a signed-in browser."""
    if visitor is None:
        return go(SIGN_IN)
    listing = await worklist(session, WorklistQuery(limit=200, as_of=as_of, kind=kind), current())
    return csv_response(WORKLIST_COLUMNS, listing.items, "worklist.csv")


@router.post("/worklist/triggers/{trigger_id}")
async def act_on_trigger(
    trigger_id: uuid.UUID,
    visitor: Manager,
    session: SessionDep,
    to: Annotated[str, Form()],
    version: Annotated[int, Form()],
    csrf: Annotated[str, Form(max_length=100)],
    reason: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    if visitor is None:
        return go(SIGN_IN)
    if not same(csrf, visitor.session.csrf) or to not in ACTIONS:
        return go("/app/worklist?refused=form")
    try:
        await lifecycle.transition(
            session, trigger_id, to, visitor.principal.label, reason or None, version
        )
    except PreconditionFailed:
        return go(f"/app/worklist?stale={trigger_id}")
    except RuleViolation as exc:
        return go(f"/app/worklist?refused={exc.code}")
    return go(f"/app/worklist?done={trigger_id}")


@router.get("/cases/{patient_id}")
async def casepage(
    request: Request, patient_id: uuid.UUID, visitor: Viewer, session: SessionDep
) -> Response:
    if visitor is None:
        return go(SIGN_IN)
    case = await get_case(session, patient_id)
    columns, rows = case_view.follow_up_table(case)
    return page(
        request,
        "case.html",
        case=case,
        identifiers=case_view.identifiers(case),
        columns=columns,
        rows=rows,
        spine=case_view.spine(case),
        chart=case_view.chart_data(case),
        **nav(visitor),
    )


@dataclass(frozen=True)
class DashboardFilters:
    kind: ProcedureKind | None
    sex: Sex | None
    age_band: AgeBand | None
    period: str | None

    def cohort(self) -> Cohort:
        # dates by year or quarter, as stats:read may ask them (app.outcomes.query_space)
        first, last = period_dates(self.period) if self.period else (None, None)
        return Cohort(
            kinds=(self.kind.value,) if self.kind else DEFAULT_KINDS,
            sex=(self.sex.value,) if self.sex else (),
            age_bands=(self.age_band,) if self.age_band else (),
            performed_from=first,
            performed_to=last,
            period=self.period,
        )

    def form(self) -> dict[str, str]:
        return {
            "kind": self.kind.value if self.kind else "",
            "sex": self.sex.value if self.sex else "",
            "age_band": self.age_band.value if self.age_band else "",
            "period": self.period or "",
        }


def dashboard_filters(
    kind: Annotated[str, Query(max_length=20)] = "",
    sex: Annotated[str, Query(max_length=20)] = "",
    age_band: Annotated[str, Query(max_length=20)] = "",
    period: Annotated[str, Query(max_length=7)] = "",
) -> DashboardFilters:
    """The cohort form sends every field, empty for "any" (a 422 names a bad one)."""
    return DashboardFilters(
        _parsed("kind", kind, ProcedureKind),
        _parsed("sex", sex, Sex),
        _parsed("age_band", age_band, AgeBand),
        period or None,
    )


Filters = Annotated[DashboardFilters, Depends(dashboard_filters)]


@router.get("/dashboard")
async def dashboardpage(
    request: Request, visitor: Statistician, session: SessionDep, filters: Filters
) -> Response:
    if visitor is None:
        return go(SIGN_IN)
    return await _dashboard(request, visitor, session, filters)


def _parsed(name: str, value: str, parse: Callable[[str], T]) -> T | None:
    if not value:
        return None
    try:
        return parse(value)
    except ValueError:
        raise RuleViolation(name, f"{value!r} is not a valid {name}.", "invalid-filter") from None


@router.get("/dashboard/outcomes.csv")
async def outcomes_csv(visitor: Statistician, session: SessionDep, filters: Filters) -> Response:
    """The API's /stats/outcomes CSV (same service and scope) for the dashboard's cohort."""
    if visitor is None:
        return go(SIGN_IN)
    exact = visitor.principal.has(STATS_RESEARCH)
    return figures_csv(await outcome_stats(session, filters.cohort(), exact=exact), "outcomes.csv")


async def _dashboard(
    request: Request, visitor: Visitor, session: AsyncSession, filters: DashboardFilters
) -> Response:
    cohort = filters.cohort()
    exact = visitor.principal.has(STATS_RESEARCH)
    stats = await outcome_stats(session, cohort, exact=exact)
    trajectory = await pain_trajectory(session, cohort, exact=exact, unit="week", max_day=365)
    choices = {
        "kind": [k.value for k in ProcedureKind],
        "sex": [s.value for s in Sex],
        "age_band": [a.value for a in AgeBand],
    }
    return page(
        request,
        "dashboard.html",
        view=dashboard_view.view(stats, trajectory),
        filters=filters.form(),
        choices=choices,
        **nav(visitor),
    )


def install_web(app: FastAPI) -> None:
    """The pages, and `/` leading to them."""
    app.include_router(router)
    app.include_router(recording.router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return go("/app")
