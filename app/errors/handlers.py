"""The one exception handler: every error is answered as `classify` says, rendered as
problem+json (or the path's own format), and a 500 is logged."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException

from app.errors.classify import classify
from app.errors.openapi import document_problems
from app.errors.rendering import problem_response
from app.errors.types import DomainError

log = logging.getLogger("app.errors")

# Registered by class so that they are answered inside the middleware stack (request id,
# security headers); `Exception` is answered by Starlette's outermost middleware.
HANDLED = (
    DomainError,
    RequestValidationError,
    ValidationError,
    StaleDataError,
    DBAPIError,
    OSError,
    TimeoutError,
    HTTPException,
    Exception,
)


async def problem_handler(request: Request, exc: Exception) -> Response:
    answer = classify(exc)
    if answer.unexpected:
        # Never leak a stack trace to the client: the log carries it, with the request id and
        # without request data (app.logs' formatter withholds exception messages). Database
        # errors reach this handler from ExceptionMiddleware, which logs nothing else.
        request_id = getattr(request.state, "request_id", "-")
        log.error(
            "unexpected %s answered 500 (request %s)", type(exc).__name__, request_id, exc_info=exc
        )
    return problem_response(
        request,
        answer.status,
        answer.code,
        answer.detail,
        answer.errors,
        headers=answer.headers or None,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error answered as problem+json, and documented as such in the OpenAPI schema."""
    for exc_class in HANDLED:
        app.add_exception_handler(exc_class, problem_handler)
    document_problems(app)
