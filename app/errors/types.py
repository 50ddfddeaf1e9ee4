"""The errors services raise: a stable code and an HTTP status each, no FastAPI.

Services raise `DomainError` subclasses; `app.errors.classify` turns these and every other
exception into what the client is answered, and `app.errors.rendering` writes the answer.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException


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


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit (app.middleware). An
    HTTPException, so that FastAPI re-raises it while reading a route's body (anything else it
    answers with 400)."""

    code = "content-too-large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body exceeds {max_bytes} bytes.")
