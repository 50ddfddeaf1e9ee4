"""Domain errors and the one place that turns every error into RFC 9457 problem+json.

Services raise `DomainError` subclasses and never import FastAPI; only this module knows
about HTTP status codes.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:vertebro:problem:"


@dataclass(frozen=True)
class FieldIssue:
    field: str
    message: str


@dataclass
class DomainError(Exception):
    detail: str
    code: str = "domain-error"
    status: int = 400
    errors: Sequence[FieldIssue] = field(default_factory=tuple)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


class NotFound(DomainError):
    def __init__(self, resource: str, ident: object) -> None:
        super().__init__(f"{resource} {ident} does not exist.", "not-found", 404)


class Conflict(DomainError):
    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(detail, code, 409)


class RuleViolation(DomainError):
    """A write that breaks a clinical or referential rule; `field` names the offending input."""

    def __init__(self, field_name: str, message: str, code: str = "rule-violation") -> None:
        super().__init__(message, code, 422, (FieldIssue(field_name, message),))


class Unauthorized(DomainError):
    """No credential, or one that is unknown, malformed, expired or revoked (401)."""

    def __init__(self, detail: str, code: str = "unauthenticated", error: str = "") -> None:
        challenge = 'Bearer realm="vertebro"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(detail, code, 401, headers={"WWW-Authenticate": challenge})


class Forbidden(DomainError):
    """A valid credential without the scope the operation needs (403)."""

    def __init__(self, detail: str, scopes: Sequence[str] = (), code: str = "forbidden") -> None:
        challenge = 'Bearer realm="vertebro", error="insufficient_scope"'
        if scopes:
            challenge += f', scope="{" ".join(scopes)}"'
        super().__init__(detail, code, 403, headers={"WWW-Authenticate": challenge})


class PreconditionFailed(DomainError):
    """If-Match names a version that is no longer current (412)."""

    def __init__(self, detail: str, code: str = "version-mismatch") -> None:
        super().__init__(detail, code, 412)


class PreconditionRequired(DomainError):
    """An update without If-Match (428)."""

    def __init__(self, detail: str, code: str = "if-match-required") -> None:
        super().__init__(detail, code, 428)


class TooManyRequests(DomainError):
    def __init__(self, retry_after_s: int, code: str = "rate-limited") -> None:
        super().__init__(
            f"Too many requests; retry after {retry_after_s} s.",
            code,
            429,
            headers={"Retry-After": str(retry_after_s)},
        )


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
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        errors=[ProblemField(field=e.field, message=e.message) for e in errors] or None,
    )


# Paths whose errors are answered in another format (the FHIR door answers OperationOutcome):
# path prefix -> renderer, registered by that area. The renderer gets what problem_response gets.
ErrorRenderer = Callable[
    [Request, int, str, str, Sequence[FieldIssue], Mapping[str, str] | None], JSONResponse
]
_error_renderers: dict[str, ErrorRenderer] = {}


def register_error_renderer(path_prefix: str, renderer: ErrorRenderer) -> None:
    _error_renderers[path_prefix] = renderer


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    errors: Sequence[FieldIssue] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    for prefix, renderer in _error_renderers.items():
        if request.url.path.startswith(prefix):
            return renderer(request, status, code, detail, errors, headers)
    body = problem(status, code, detail, errors, request.url.path)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers) if headers else None,
    )


def _location(loc: Sequence[Any]) -> str:
    """`body.levels.0.level` -> `levels.0.level`; query and path parameters keep their prefix."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_issues(errors: Sequence[Any]) -> list[FieldIssue]:
    return [FieldIssue(_location(e.get("loc", ())), str(e.get("msg", "invalid"))) for e in errors]


def validation_issues(errors: Sequence[Any]) -> list[FieldIssue]:
    """Pydantic errors as field issues, for validation done outside the request body."""
    return _validation_issues(errors)


def _validation_problem(request: Request, issues: list[FieldIssue]) -> JSONResponse:
    fields = ", ".join(sorted({i.field for i in issues}))
    return problem_response(request, 422, "validation-error", f"Invalid input: {fields}.", issues)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        detail = "The request body is not valid JSON."
        return problem_response(request, 400, "malformed-json", detail, _validation_issues(errors))
    return _validation_problem(request, _validation_issues(errors))


async def _on_model_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A merged update re-validated in a service (the body alone was valid)."""
    assert isinstance(exc, ValidationError)
    return _validation_problem(request, _validation_issues(exc.errors()))


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(
        request, exc.status, exc.code, exc.detail, exc.errors, headers=exc.headers or None
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(request, exc.status_code, code, detail, headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Never leak a stack trace to the client: the log carries it, with the request id and
    # without request data (app.middleware's formatter withholds exception messages). Logged
    # here because database errors reach this handler from _on_dbapi_error, which nothing else
    # logs; other exceptions may also get the server's own "Exception in ASGI application".
    request_id = getattr(request.state, "request_id", "-")
    log.error(
        "unexpected %s answered 500 (request %s)", type(exc).__name__, request_id, exc_info=exc
    )
    return problem_response(
        request, 500, "internal-error", "An unexpected error occurred; it has been logged."
    )


async def _on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database (or another backing service) cannot be reached, or a statement timed out."""
    return problem_response(
        request,
        503,
        "unavailable",
        "The registry cannot reach its database right now; retry later.",
        headers={"Retry-After": "5"},
    )


# PostgreSQL errors that a retry can clear: statement timeout (often a long lock wait), lock
# timeout, deadlock, serialization failure. Anything else unexpected stays a 500.
TRANSIENT_SQLSTATES = frozenset({"57014", "55P03", "40P01", "40001"})


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    if getattr(getattr(exc, "orig", None), "sqlstate", None) in TRANSIENT_SQLSTATES:
        return problem_response(
            request,
            503,
            "busy",
            "The database was too busy to finish this request (it changed nothing); retry.",
            headers={"Retry-After": "2"},
        )
    return await _on_dbapi_error(request, exc)


# SQLSTATE classes that mean "the database is not available right now", whatever exception
# class the driver maps them to (asyncpg's are plain DBAPIError): connection exceptions (08),
# insufficient resources such as too many connections (53), operator intervention (57: a
# statement cancelled by statement_timeout, the server shutting down or starting up).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def is_data_exception(exc: BaseException) -> bool:
    """SQLSTATE class 22 (a value the column cannot take: too long, out of range, ...), which
    asyncpg reports as a plain DBAPIError rather than DataError."""
    if isinstance(exc, DataError):
        return True
    orig = getattr(exc, "orig", None)
    return isinstance(exc, DBAPIError) and str(getattr(orig, "sqlstate", None) or "")[:2] == "22"


async def _on_dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    """Driver errors that are not transient (above): unavailable (503), a value the database
    cannot take (422), or unexpected (500)."""
    assert isinstance(exc, DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    if exc.connection_invalidated or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
        return await _on_unavailable(request, exc)
    if is_data_exception(exc):
        return await _on_data_error(request, exc)
    return await _on_unexpected(request, exc)


async def _on_integrity_error(request: Request, exc: Exception) -> JSONResponse:
    """A constraint caught what the services did not (typically a concurrent writer)."""
    return problem_response(request, 409, "conflict", "This write conflicts with stored data.")


async def _on_data_error(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 422, "invalid-value", "A value is out of range for storage.")


async def _on_stale_data(request: Request, exc: Exception) -> JSONResponse:
    """Two updates of the same version raced past If-Match: the later one loses (412)."""
    return problem_response(
        request,
        412,
        "version-mismatch",
        "The record was changed by another request meanwhile; read it again and retry.",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error answered as problem+json, and documented as such in the OpenAPI schema."""
    app.add_exception_handler(StaleDataError, _on_stale_data)
    for unavailable in (OSError, TimeoutError, OperationalError, InterfaceError):
        app.add_exception_handler(unavailable, _on_unavailable)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ValidationError, _on_model_validation_error)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    _document_problems(app)


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_REPLACED_SCHEMAS = ("#/components/schemas/Problem", "#/components/schemas/HTTPValidationError")


def _problem_doc(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
    }


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI schema say what the handlers above answer: error responses are
    `application/problem+json` with the Problem schema (FastAPI documents its own 422 body and
    `application/json` otherwise); a request body can also be refused as malformed JSON (400)
    or too large (413), and any route that reads the database can answer 503. Paths whose
    errors have another renderer (the FHIR door) document their own."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        spec.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        for path, operations in spec.get("paths", {}).items():
            if any(path.startswith(prefix) for prefix in _error_renderers):
                continue
            for operation in operations.values():
                responses: dict[str, Any] = operation.setdefault("responses", {})
                for status, response in responses.items():
                    content = response.get("content", {})
                    schema = content.get("application/json", {}).get("schema", {})
                    if status[:1] in "45" and schema.get("$ref") in _REPLACED_SCHEMAS:
                        response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
                added = ([400, 413] if "requestBody" in operation else []) + (
                    [503] if path not in ("/health", "/ready") else []
                )
                for status_code in added:
                    responses.setdefault(str(status_code), _problem_doc(status_code))
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem statuses a route can return."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }
