"""Errors under /app, as a browser reads them: a page in the site's layout saying what
happened and where to go next. A client asking for JSON keeps problem+json."""

from collections.abc import Mapping, Sequence
from http import HTTPStatus

from fastapi import Request
from fastapi.responses import Response

from app.auth.principal import Principal
from app.auth.scopes import CASES_READ, STATS_READ
from app.errors import problem_json_response, wants_html
from app.errors.catalogue import title_of
from app.errors.types import FieldIssue
from app.web.pages import SIGN_IN, page

# the pages a key can be sent to, by the scope each needs
PLACES = (
    (CASES_READ, "/app/worklist", "the follow-up worklist"),
    (STATS_READ, "/app/dashboard", "the outcomes dashboard"),
)


def signed_in_as(request: Request) -> Principal | None:
    """The visitor a page's guard recognised before the error (app.web.access)."""
    principal: Principal | None = getattr(request.state, "web_principal", None)
    return principal


def render_page_error(
    request: Request,
    status: int,
    code: str,
    detail: str,
    errors: Sequence[FieldIssue],
    headers: Mapping[str, str] | None,
) -> Response:
    if not wants_html(request):
        return problem_json_response(request, status, code, detail, errors, headers)
    principal = signed_in_as(request)
    places = [(url, name) for scope, url, name in PLACES if principal and scope in principal.scopes]
    response = page(
        request,
        "error.html",
        status,
        status_code=status,
        title=title_of(code, HTTPStatus(status).phrase),
        detail=detail,
        principal=principal,
        places=places,
        sign_in=SIGN_IN,
    )
    for name, value in (headers or {}).items():
        response.headers.setdefault(name, value)
    return response
