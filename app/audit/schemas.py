import uuid
from datetime import datetime

from pydantic import Field

from app.common.schemas import ReadModel


class AuditEventRead(ReadModel):
    id: uuid.UUID
    occurred_at: datetime
    request_id: str | None = Field(description="The X-Request-ID of the request.")
    credential_id: uuid.UUID | None = Field(
        description="The API key's id, or uuid5(issuer|subject) of a JWT; for a failed "
        "authentication, the key's id when it was a known (expired or revoked) key."
    )
    credential_kind: str | None = Field(description="`api-key` or `jwt`.")
    credential_label: str | None = Field(description="`vtb_<prefix>` or `jwt:<subject>`.")
    action: str = Field(description="read, create, update or delete.")
    method: str
    route: str = Field(description="The route template, e.g. /api/v1/patients/{patient_id}.")
    resource_type: str | None
    resource_id: str | None
    patient_id: uuid.UUID | None
    aggregate: bool = Field(description="A read of aggregate statistics: no patient ids.")
    outcome: str = Field(description="success, unauthenticated, forbidden, rejected or error.")
    status_code: int
    reason: str | None = Field(
        description="The problem code of a refused request; `idempotent-replay` for an answer "
        "replayed for an Idempotency-Key; `too-many-failed-authentications` (429) stands for "
        "every failed authentication throttled from the address in the following minute."
    )
    client_address: str | None
