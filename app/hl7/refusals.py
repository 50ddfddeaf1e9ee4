"""A message answered AE or AR, logged beside the JSON door's refused events
(app.ingestion.rejections), so GET /events?status=rejected accounts for it: MSH-4 as the
source, MSH-10 as the event id, MSH-9 as the type, PID-3's patient when it can be read, the
raw message as the payload, and every ERR segment as one of the problem's errors."""

import contextlib
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from app.errors import problem
from app.errors.types import FieldIssue
from app.hl7 import mapping
from app.hl7.reader import AckCode, Issue, Message, V2Error
from app.ingestion.rejections import rejection_row

# AE: the message was read but its content refused; AR: it could not be taken at all
PROBLEMS = {"AE": (422, "hl7v2-application-error"), "AR": (400, "hl7v2-application-reject")}


def _envelope(msg: Message | None) -> dict[str, Any]:
    """What can be read of the message's header and patient."""
    if msg is None:
        return {}
    msh = msg.msh
    kind = "^".join(part for part in (msh.get(9, 1, 1), msh.get(9, 1, 2)) if part)
    fields: dict[str, Any] = {
        "source": msh.get(4) or msh.get(4, 1, 2),
        "event_id": msh.get(10),
        "type": kind,
    }
    with contextlib.suppress(V2Error):  # no readable PID-3: the row names no patient
        fields["patient"] = mapping.patient_identity(msg)[0]
    return fields


def refusal_row(
    msg: Message | None,
    raw: str,
    code: AckCode,
    issues: Sequence[Issue],
    credential_id: uuid.UUID | None,
) -> dict[str, Any]:
    status, problem_code = PROBLEMS["AE" if code == "AE" else "AR"]
    detail = f"The message was answered {code}: " + "; ".join(i.text for i in issues)
    body = problem(status, problem_code, detail, [FieldIssue(i.location, i.text) for i in issues])
    row = rejection_row(_envelope(msg), body.model_dump(exclude_none=True), credential_id)
    row["payload"] = {"hl7v2": raw}
    row["payload_hash"] = hashlib.sha256(raw.encode()).hexdigest()
    return row
