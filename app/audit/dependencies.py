"""The request-scoped audit context: a dependency with `yield` on the request's session.

Declared with scope="function", its exit runs after the handler (and the response's
serialization) but before the session dependency commits, so the audit rows share the
request's transaction. A failed request is recorded with the status and reason the client is
answered: both come from `app.errors.classify`.
"""

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request, Response

from app.audit.recorder import (
    REPLAYED,
    THROTTLED_AUTHENTICATION,
    AuditContext,
    PatientCollector,
    add_rows,
    write_separately,
)
from app.common.ratelimit import rate_limits
from app.common.routes import route_template
from app.db import SessionDep
from app.errors import classify


def _success_status(request: Request, response: Response) -> int:
    if response.status_code:
        return response.status_code
    return int(getattr(request.scope.get("route"), "status_code", None) or 200)


def new_context(request: Request) -> AuditContext:
    context = AuditContext(
        method=request.method,
        route=route_template(request.scope),
        request_id=getattr(request.state, "request_id", None),
        client_address=request.client.host if request.client else None,
    )
    if request.path_params:
        context.note_resource(list(request.path_params.values())[-1])
    return context


def worth_recording(request: Request, context: AuditContext, status: int, reason: str) -> bool:
    """Throttled requests are not written (that is the point), except failed authentications:
    per client address, the first one throttled in a minute stands for the others."""
    if status != 429:
        return True
    limits = rate_limits(request.app)
    address = context.client_address or "unknown"
    return (
        reason == THROTTLED_AUTHENTICATION
        and limits is not None
        and limits.audited_throttling.take(address) is None
    )


async def record_refusal(request: Request, context: AuditContext, exc: BaseException) -> None:
    """The rows of a request refused outside its dependencies, in a transaction of their own."""
    answer = classify(exc)
    status, reason = answer.status, answer.code
    if worth_recording(request, context, status, reason):
        await write_separately(context.rows(status, reason))


async def audit_request(
    request: Request, response: Response, session: SessionDep
) -> AsyncIterator[AuditContext]:
    context = new_context(request)
    cleanups: list[Callable[[], None]] = []
    request.state.audit = context
    request.state.audit_cleanups = cleanups
    try:
        with PatientCollector(context, session.sync_session):
            yield context
    except Exception as exc:
        replayed = context.replayed_status
        if replayed:
            status, reason = replayed, REPLAYED
        else:
            answer = classify(exc)  # what the error handlers answer the client
            status, reason = answer.status, answer.code
        # a group commit wrote its own rows
        if not context.recorded and worth_recording(request, context, status, reason):
            await session.rollback()
            await write_separately(context.rows(status, reason))
        raise
    else:
        if not context.recorded:
            location = response.headers.get("location")
            if location and request.method == "POST":
                context.note_resource(location.rstrip("/").rsplit("/", 1)[-1])
            await add_rows(session, context.rows(_success_status(request, response), None))
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


AuditDep = Annotated[AuditContext, Depends(audit_request, scope="function")]
