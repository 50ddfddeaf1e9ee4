"""Errors: the types services raise (`types`), the one classification of every exception into
a status and a stable code (`classify`), their rendering as RFC 9457 problem+json
(`rendering`), the handler that answers with them (`handlers`), and the OpenAPI hook that
documents them (`openapi`). Only this package knows about HTTP status codes.
"""

from app.errors.classify import (
    TRANSIENT_SQLSTATES,
    Classified,
    classify,
    is_data_exception,
    validation_issues,
)
from app.errors.handlers import install_error_handlers, problem_handler
from app.errors.openapi import problem_responses
from app.errors.rendering import (
    PROBLEM_JSON,
    TYPE_PREFIX,
    ErrorRenderer,
    Problem,
    ProblemField,
    code_of,
    problem,
    problem_json_response,
    problem_response,
    register_error_renderer,
    wants_html,
)
from app.errors.types import (
    BodyTooLarge,
    Conflict,
    DomainError,
    FieldIssue,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    RuleViolation,
    TooManyRequests,
    Unauthorized,
)

__all__ = [
    "PROBLEM_JSON",
    "TRANSIENT_SQLSTATES",
    "TYPE_PREFIX",
    "BodyTooLarge",
    "Classified",
    "Conflict",
    "DomainError",
    "ErrorRenderer",
    "FieldIssue",
    "Forbidden",
    "NotFound",
    "PreconditionFailed",
    "PreconditionRequired",
    "Problem",
    "ProblemField",
    "RuleViolation",
    "TooManyRequests",
    "Unauthorized",
    "classify",
    "code_of",
    "install_error_handlers",
    "is_data_exception",
    "problem",
    "problem_handler",
    "problem_json_response",
    "problem_response",
    "problem_responses",
    "register_error_renderer",
    "validation_issues",
    "wants_html",
]
