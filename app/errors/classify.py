"""One classification of errors: the status, stable code and detail an exception is answered
with. The exception handlers render it (app.errors.rendering) and the audit trail records its
status and code (app.audit.dependencies), so the two cannot disagree.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException

from app.errors.types import BodyTooLarge, DomainError, FieldIssue


@dataclass(frozen=True)
class Classified:
    """What the client is answered: problem+json with these, and what the audit records."""

    status: int
    code: str
    detail: str
    errors: Sequence[FieldIssue] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def unexpected(self) -> bool:
        """A 500: logged with its traceback (nothing else about it reaches the client)."""
        return self.status == 500


UNEXPECTED = Classified(500, "internal-error", "An unexpected error occurred; it has been logged.")
UNAVAILABLE = Classified(
    503,
    "unavailable",
    "The registry cannot reach its database right now; retry later.",
    headers={"Retry-After": "5"},
)
BUSY = Classified(
    503,
    "busy",
    "The database was too busy to finish this request (it changed nothing); retry.",
    headers={"Retry-After": "2"},
)
CONFLICT = Classified(409, "conflict", "This write conflicts with stored data.")
INVALID_VALUE = Classified(422, "invalid-value", "A value is out of range for storage.")
STALE = Classified(
    412,
    "version-mismatch",
    "The record was changed by another request meanwhile; read it again and retry.",
)

# PostgreSQL errors that a retry can clear: statement timeout (often a long lock wait), lock
# timeout, deadlock, serialization failure.
TRANSIENT_SQLSTATES = frozenset({"57014", "55P03", "40P01", "40001"})
# SQLSTATE classes that mean "the database is not available right now", whatever exception
# class the driver maps them to (asyncpg's are plain DBAPIError): connection exceptions (08),
# insufficient resources such as too many connections (53), operator intervention (57: the
# server shutting down or starting up).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")


def is_data_exception(exc: BaseException) -> bool:
    """SQLSTATE class 22 (a value the column cannot take: too long, out of range, ...), which
    asyncpg reports as a plain DBAPIError rather than DataError."""
    if isinstance(exc, DataError):
        return True
    return isinstance(exc, DBAPIError) and _sqlstate(exc)[:2] == "22"


def _location(loc: Sequence[Any]) -> str:
    """`body.levels.0.level` -> `levels.0.level`; query and path parameters keep their prefix."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


# pydantic's wording of errors raised by our own validators, which the message carries after it
_PREFIXES = ("Value error, ", "Assertion failed, ")


def _message(error: Any) -> str:
    """A pydantic message in the registry's words: our validators' messages without pydantic's
    prefix, capitalised as a sentence."""
    message = str(error.get("msg", "invalid"))
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    first_word = message.split(" ", 1)[0]
    if "_" in first_word or "." in first_word:  # a field's name: kept as the API spells it
        return message
    return message[:1].upper() + message[1:]


def validation_issues(errors: Sequence[Any]) -> list[FieldIssue]:
    """Pydantic errors as field issues (request bodies, and validation done in services)."""
    return [FieldIssue(_location(e.get("loc", ())), _message(e)) for e in errors]


def _json_syntax(errors: Sequence[Any], body: Any) -> list[FieldIssue]:
    """FastAPI's json_invalid errors (`loc` holds the character offset) as line and column."""
    issues = []
    for err in errors:
        loc = err.get("loc", ())
        position = loc[-1] if loc and isinstance(loc[-1], int) else None
        reason = str((err.get("ctx") or {}).get("error", "")) or "invalid JSON"
        if position is not None and isinstance(body, str | bytes):
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            line = text.count("\n", 0, position) + 1
            column = position - (text.rfind("\n", 0, position) + 1) + 1
            reason = f"{reason} at line {line}, column {column}"
        issues.append(FieldIssue("body", reason[:1].upper() + reason[1:] + "."))
    return issues


def _invalid(issues: list[FieldIssue]) -> Classified:
    fields = ", ".join(sorted({i.field for i in issues}))
    return Classified(422, "validation-error", f"Invalid input: {fields}.", issues)


def _database(exc: DBAPIError) -> Classified:
    if isinstance(exc, OperationalError | InterfaceError):
        return UNAVAILABLE
    if isinstance(exc, IntegrityError):
        return CONFLICT  # a constraint caught what the services did not (a concurrent writer)
    if isinstance(exc, DataError):
        return INVALID_VALUE
    sqlstate = _sqlstate(exc)
    if sqlstate in TRANSIENT_SQLSTATES:
        return BUSY
    if exc.connection_invalidated or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
        return UNAVAILABLE
    if is_data_exception(exc):
        return INVALID_VALUE
    return UNEXPECTED


def classify(exc: BaseException) -> Classified:
    """The one table from exceptions to answers. Anything not listed is a logged 500."""
    if isinstance(exc, DomainError):
        return Classified(exc.status, exc.code, exc.detail, exc.errors, exc.headers)
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        if syntax := [err for err in errors if err.get("type") == "json_invalid"]:
            detail = "The request body is not valid JSON."
            return Classified(400, "malformed-json", detail, _json_syntax(syntax, exc.body))
        return _invalid(validation_issues(errors))
    if isinstance(exc, ValidationError):  # a merged update re-validated in a service
        return _invalid(validation_issues(exc.errors()))
    if isinstance(exc, StaleDataError):  # two updates of one version raced past If-Match
        return STALE
    if isinstance(exc, DBAPIError):
        return _database(exc)
    if isinstance(exc, OSError | TimeoutError):  # the database (or another backend) is away
        return UNAVAILABLE
    if isinstance(exc, BodyTooLarge):
        return Classified(413, BodyTooLarge.code, str(exc.detail))
    if isinstance(exc, HTTPException):
        phrase = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) else phrase
        code = phrase.lower().replace(" ", "-")
        return Classified(exc.status_code, code, detail, headers=exc.headers or {})
    return UNEXPECTED
