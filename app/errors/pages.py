"""The problem-type catalogue as pages: `GET /problems` and `/problems/{code}`, JSON by default
and HTML when the client prefers text/html (a browser). Open (no credential: nothing here is
about a patient) and left out of the OpenAPI schema like /docs."""

import json
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.errors.catalogue import CATALOGUE, ProblemType
from app.errors.rendering import LEGACY_TYPE_PREFIX, TYPE_PREFIX, problem, wants_html
from app.errors.types import FieldIssue, NotFound

router = APIRouter(prefix="/problems", include_in_schema=False)

_STYLE = "body{font-family:sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}"


def _as_json(entry: ProblemType) -> dict[str, Any]:
    errors = (FieldIssue(entry.field, entry.example),) if entry.field else ()
    example = problem(entry.status, entry.code, entry.example, errors, "/api/v1/...")
    return {
        "code": entry.code,
        "type": TYPE_PREFIX + entry.code,
        "page": f"/problems/{entry.code}",
        "status": entry.status,
        "title": entry.title,
        "when": entry.when,
        "fix": entry.fix,
        "example": example.model_dump(exclude_none=True),
    }


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _entry_html(entry: ProblemType) -> str:
    example = json.dumps(_as_json(entry)["example"], indent=2)
    return (
        f"<h1>{escape(entry.title)}</h1><p><code>{escape(TYPE_PREFIX + entry.code)}</code> "
        f"&middot; HTTP {entry.status}</p><h2>When it happens</h2><p>{escape(entry.when)}</p>"
        f"<h2>How to fix it</h2><p>{escape(entry.fix)}</p><h2>Example</h2>"
        f'<pre>{escape(example)}</pre><p><a href="/problems">All problem types</a></p>'
    )


@router.get("")
async def list_problems(request: Request) -> Response:
    entries = sorted(CATALOGUE.values(), key=lambda e: e.code)
    if not wants_html(request):
        return JSONResponse([_as_json(e) for e in entries])
    rows = "".join(
        f'<tr><td><a href="/problems/{escape(e.code)}">{escape(e.code)}</a></td>'
        f"<td>{e.status}</td><td>{escape(e.title)}</td></tr>"
        for e in entries
    )
    return _page(
        "Problem types",
        "<h1>Problem types</h1><p>Every error is answered as application/problem+json; its "
        "<code>type</code> ends with one of these codes.</p>"
        f"<table><tr><th>Code</th><th>Status</th><th>Title</th></tr>{rows}</table>",
    )


@router.get("/{code}")
async def show_problem(code: str, request: Request) -> Response:
    entry = CATALOGUE.get(code.removeprefix(LEGACY_TYPE_PREFIX))
    if entry is None:
        raise NotFound("Problem type", repr(code))
    if wants_html(request):
        return _page(entry.title, _entry_html(entry))
    return JSONResponse(_as_json(entry))
