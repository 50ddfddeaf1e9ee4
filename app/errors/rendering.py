"""Errors as the client reads them: RFC 9457 problem+json, or another format registered for a
path (the FHIR door answers OperationOutcome)."""

from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from app.errors.catalogue import title_of
from app.errors.types import FieldIssue

PROBLEM_JSON = "application/problem+json"
# a relative URI reference (RFC 9457 section 3.1.1): resolved against the API's address it is
# the problem's page in the catalogue (app/errors/pages.py)
TYPE_PREFIX = "/problems/"
LEGACY_TYPE_PREFIX = "urn:vertebro:problem:"  # before 2026-12: still read by /problems/{code}


def code_of(problem_type: str) -> str:
    """A problem type's code, from its URI now (`/problems/<code>`) or as stored before (the
    URN): event-log rows keep the problem they were answered."""
    return problem_type.removeprefix(TYPE_PREFIX).removeprefix(LEGACY_TYPE_PREFIX)


class ProblemField(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is returned."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemField] | None = None


def problem(
    status: int,
    code: str,
    detail: str,
    errors: Sequence[FieldIssue] = (),
    instance: str | None = None,
) -> Problem:
    """The problem body alone, e.g. for one rejected item of a batch answered as a whole."""
    return Problem(
        type=TYPE_PREFIX + code,
        title=title_of(code, HTTPStatus(status).phrase),
        status=status,
        detail=detail,
        instance=instance,
        errors=[ProblemField(field=e.field, message=e.message) for e in errors] or None,
    )


def wants_html(request: Request) -> bool:
    """text/html listed before any JSON type in Accept (a browser), else JSON."""
    accept = request.headers.get("accept", "").lower()
    html, json_ = accept.find("text/html"), accept.find("json")
    return html >= 0 and (json_ < 0 or html < json_)


# Paths whose errors are answered in another format (the FHIR door answers OperationOutcome,
# the web pages HTML to a browser): path prefix -> renderer, registered by that area. The
# renderer gets what problem_response gets.
ErrorRenderer = Callable[
    [Request, int, str, str, Sequence[FieldIssue], Mapping[str, str] | None], Response
]
_error_renderers: dict[str, ErrorRenderer] = {}


def register_error_renderer(path_prefix: str, renderer: ErrorRenderer) -> None:
    _error_renderers[path_prefix] = renderer


def rendered_elsewhere(path: str) -> bool:
    """Whether errors on `path` have a renderer of their own (and document their own)."""
    return any(path.startswith(prefix) for prefix in _error_renderers)


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    errors: Sequence[FieldIssue] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    for prefix, renderer in _error_renderers.items():
        if request.url.path.startswith(prefix):
            return renderer(request, status, code, detail, errors, headers)
    return problem_json_response(request, status, code, detail, errors, headers)


def problem_json_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    errors: Sequence[FieldIssue] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The problem+json answer, whatever renderer the path has (a renderer's fallback)."""
    body = problem(status, code, detail, errors, request.url.path)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers) if headers else None,
    )
