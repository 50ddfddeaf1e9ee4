"""Recording from a worklist row: the due pain score, and a medication change. Validated as
the API validates (the follow-up schemas, then the follow-up service's rules); errors are shown
beside their field in the row, and the worklist is answered again with them (422)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from app.auth.scopes import CASES_WRITE
from app.db import SessionDep
from app.errors import RuleViolation
from app.follow_up.schemas import MedicationIn, PainIn
from app.follow_up.service import create_follow_up
from app.models.base import utcnow
from app.web.access import Visitor, page_access
from app.web.pages import SIGN_IN, render_worklist, to
from app.web.sessions import same
from app.worklist.schemas import WorklistQuery

router = APIRouter(prefix="/app/worklist", include_in_schema=False)
Writer = Annotated[Visitor | None, page_access(CASES_WRITE)]
RowId = Annotated[str, Form(max_length=200)]
Text = Annotated[str, Form(max_length=60)]


async def _record(
    request: Request,
    visitor: Visitor,
    session: SessionDep,
    schema: type[BaseModel],
    row_id: str,
    base: dict[str, Any],
    fields: dict[str, str],
) -> Response:
    errors: dict[str, str] = {}
    try:
        data = schema.model_validate(
            {**base, "occurred_at": utcnow(), **{k: v for k, v in fields.items() if v != ""}}
        )
        await create_follow_up(session, data)  # type: ignore[arg-type]
    except ValidationError as exc:
        for issue in exc.errors():
            message = str(issue["msg"])
            # a check across fields names the field it asks for: shown beside that one
            named = [word for word in message.split() if word in fields]
            name = str(issue["loc"][0]) if issue["loc"] else (named or ["form"])[0]
            errors.setdefault(name, message)
    except RuleViolation as exc:
        for field_issue in exc.errors:
            errors.setdefault(field_issue.field.rsplit(".", 1)[-1], field_issue.message)
    if errors:
        return await render_worklist(
            request,
            visitor,
            session,
            WorklistQuery(limit=200),
            422,
            row_errors={row_id: errors},
            row_values={row_id: fields},
        )
    return to(f"/app/worklist?done={base['kind']}")


@router.post("/pain")
async def record_pain(
    request: Request,
    visitor: Writer,
    session: SessionDep,
    row_id: Annotated[str, Form(max_length=200)],
    patient_id: Annotated[uuid.UUID, Form()],
    procedure_id: Annotated[uuid.UUID, Form()],
    csrf: Annotated[str, Form(max_length=100)],
    scale: Annotated[str, Form(max_length=20)] = "",
    value: Annotated[str, Form(max_length=20)] = "",
    site: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The due pain score, from its row."""
    if visitor is None:
        return to(SIGN_IN)
    if not same(csrf, visitor.session.csrf):
        return to("/app/worklist?refused=form")
    fields = {"scale": scale, "value": value, "site": site}
    base = {"kind": "pain", "patient_id": patient_id, "procedure_id": procedure_id}
    if not value:
        base["value"] = None  # "required" beside the field
    return await _record(request, visitor, session, PainIn, row_id, base, fields)


@router.post("/medication")
async def record_medication(
    request: Request,
    visitor: Writer,
    session: SessionDep,
    row_id: RowId,
    patient_id: Annotated[uuid.UUID, Form()],
    procedure_id: Annotated[uuid.UUID, Form()],
    csrf: Annotated[str, Form(max_length=100)],
    drug: Text = "",
    dose: Text = "",
    dose_unit: Text = "",
    route: Text = "",
    doses_per_day: Text = "",
    status: Text = "",
) -> Response:
    """A medication change from the row (a new drug or dose, or `stopped`)."""
    if visitor is None:
        return to(SIGN_IN)
    if not same(csrf, visitor.session.csrf):
        return to("/app/worklist?refused=form")
    fields = {
        "drug": drug,
        "dose": dose,
        "dose_unit": dose_unit,
        "route": route,
        "doses_per_day": doses_per_day,
        "status": status,
    }
    base = {"kind": "medication", "patient_id": patient_id, "procedure_id": procedure_id}
    return await _record(request, visitor, session, MedicationIn, row_id, base, fields)
