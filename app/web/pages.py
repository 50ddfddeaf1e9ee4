"""What every page shares: the templates, the CSP, redirects, the worklist's rendering."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.scopes import CASES_WRITE, TRIGGERS_MANAGE
from app.clinical.definitions import current
from app.clinical.enums import DoseUnit, MedicationStatus, PainScale, PainSite, Route
from app.web.access import Visitor
from app.worklist.schemas import WorklistQuery
from app.worklist.service import worklist

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
# scripts only from this origin (no inline script, no outside host); Observable Plot writes a
# <style> element into each chart, hence inline styles (never scripts)
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SIGN_IN = "/app/sign-in"
ACTIONS = {
    "acknowledged": "Acknowledge",
    "imaging_ordered": "Order imaging",
    "resolved": "Resolve",
    "dismissed": "Dismiss",
}


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


def to(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def nav(visitor: Visitor) -> dict[str, Any]:
    return {"visitor": visitor.principal, "csrf": visitor.session.csrf}


async def render_worklist(
    request: Request,
    visitor: Visitor,
    session: AsyncSession,
    query: WorklistQuery,
    status: int = 200,
    **notices: Any,
) -> HTMLResponse:
    listing = await worklist(session, query, current())
    return page(
        request,
        "worklist.html",
        status,
        rows=listing.items,
        as_of=listing.as_of,
        actions=ACTIONS,
        scales=[scale.value for scale in PainScale],
        sites=[site.value for site in PainSite],
        dose_units=[unit.value for unit in DoseUnit],
        routes=[route.value for route in Route],
        statuses=[s.value for s in MedicationStatus],
        can_act=visitor.principal.has(TRIGGERS_MANAGE),
        can_score=visitor.principal.has(CASES_WRITE),
        **notices,
        **nav(visitor),
    )
