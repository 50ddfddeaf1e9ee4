"""What one request leaves in the audit trail, and how it gets there.

A request's `AuditContext` learns who called (the auth guard sets the principal), which
patients the request touched (every ORM object with a patient loaded into or flushed by the
request's session is noticed by `PatientCollector`; handlers may add more with
`note_patient`), and how it ended. On success its rows are added to the request's own
transaction, so they commit (or roll back) with the data they describe. A failed or refused
request rolls back, so its rows are written in a separate short transaction.
"""

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.auth.scopes import AGGREGATE_SCOPES
from app.db import get_sessionmaker
from app.models import ApiKey, AuditEvent, Patient

log = logging.getLogger("vertebro.audit")

ACTIONS = {
    "GET": "read",
    "HEAD": "read",
    "POST": "create",
    "PUT": "update",
    "PATCH": "update",
    "DELETE": "delete",
}
_NOT_PATIENT_DATA = (AuditEvent, ApiKey)
_ROUTE_PREFIX = ("api", "v1")


def resource_type(route: str) -> str | None:
    """`/api/v1/procedures/{procedure_id}/levels/{level_id}` -> `procedures/levels`."""
    literal = [seg for seg in route.strip("/").split("/") if seg and not seg.startswith("{")]
    while literal and literal[0] in _ROUTE_PREFIX:
        literal = literal[1:]
    return "/".join(literal)[:60] or None


REPLAYED = "idempotent-replay"  # the reason recorded for an answer replayed from storage
THROTTLED_AUTHENTICATION = "too-many-failed-authentications"


def outcome_of(status: int, reason: str | None = None) -> str:
    if reason == THROTTLED_AUTHENTICATION:
        return "unauthenticated"
    if status < 400:
        return "success"
    return {401: "unauthenticated", 403: "forbidden"}.get(
        status, "rejected" if status < 500 else "error"
    )


@dataclass
class AuditContext:
    method: str
    route: str
    request_id: str | None
    client_address: str | None
    principal: Principal | None = None
    rejected_credential_id: uuid.UUID | None = None
    recorded: bool = False  # its rows were committed already (an event's group commit)
    replayed_status: int | None = None  # answered with a stored answer (Idempotency-Key)
    resource_id: str | None = None
    patient_ids: set[uuid.UUID] = field(default_factory=set)
    _scope_marks: list[bool] = field(default_factory=list)

    def note_patient(self, patient_id: uuid.UUID | None) -> None:
        """Record that this request touched a patient the ORM collector cannot see (e.g. a
        Core query returning rows of several patients)."""
        if patient_id is not None:
            self.patient_ids.add(patient_id)

    def note_resource(self, resource_id: object) -> None:
        self.resource_id = str(resource_id)[:64]

    def mark_scopes(self, scopes: Sequence[str]) -> None:
        if scopes:
            self._scope_marks.append(set(scopes) <= AGGREGATE_SCOPES)

    @property
    def aggregate(self) -> bool:
        """Guarded only by statistics scopes: recorded without patient ids."""
        return bool(self._scope_marks) and all(self._scope_marks)

    def rows(self, status: int, reason: str | None) -> list[dict[str, Any]]:
        """The request's audit rows (one per patient touched), as values for `add_rows`."""
        principal = self.principal
        patients: Iterable[uuid.UUID | None] = (
            sorted(self.patient_ids) if self.patient_ids and not self.aggregate else [None]
        )
        common = {
            "request_id": self.request_id,
            "credential_id": principal.id if principal else self.rejected_credential_id,
            "credential_kind": principal.kind if principal else None,
            "credential_label": principal.label if principal else None,
            "action": ACTIONS.get(self.method, self.method.lower()[:16]),
            "method": self.method[:8],
            "route": self.route[:200],
            "resource_type": resource_type(self.route),
            "resource_id": self.resource_id,
            "aggregate": self.aggregate,
            "outcome": outcome_of(status, reason),
            "status_code": status,
            "reason": reason,
            "client_address": self.client_address,
        }
        return [{**common, "patient_id": p} for p in patients]


_audit = cast(Table, AuditEvent.__table__)
# with RETURNING, SQLAlchemy sends multi-row VALUES ("insertmanyvalues"), not a row at a time
_INSERT = _audit.insert().returning(_audit.c.id)


async def add_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert audit rows in the session's transaction: one Core INSERT however many patients
    (a batch of events touches hundreds; ORM objects would cost more than the data)."""
    if rows:
        await session.execute(_INSERT, rows)


def _patient_of(obj: Any) -> uuid.UUID | None:
    if isinstance(obj, _NOT_PATIENT_DATA):
        return None
    state = inspect(obj).dict  # what is loaded; never triggers a load
    value = state.get("id") if isinstance(obj, Patient) else state.get("patient_id")
    return value if isinstance(value, uuid.UUID) else None


_COLLECTING = "vertebro.audit.context"


class PatientCollector:
    """Notices every patient whose data the session loads or writes. The listeners are
    registered once on the Session class (per-session listen/remove cost a request ~0.1 ms);
    the session's `info` says which request's context is collecting."""

    def __init__(self, context: AuditContext, session: Session) -> None:
        self.context = context
        self.session = session

    def __enter__(self) -> "PatientCollector":
        self.session.info[_COLLECTING] = self.context
        return self

    def __exit__(self, *_exc: object) -> None:
        self.session.info.pop(_COLLECTING, None)


@event.listens_for(Session, "loaded_as_persistent")
def _loaded(session: Session, instance: object) -> None:
    context = session.info.get(_COLLECTING)
    if context is not None:
        context.note_patient(_patient_of(instance))


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _flush_context: object) -> None:
    context = session.info.get(_COLLECTING)
    if context is not None:
        for instance in (*session.new, *session.dirty, *session.deleted):
            context.note_patient(_patient_of(instance))


async def write_separately(rows: list[dict[str, Any]]) -> None:
    """Rows for a request whose own transaction rolled back, in a short transaction of their
    own. A failure here is logged (without the rows) and does not mask the original error."""
    try:
        async with get_sessionmaker()() as session:
            await add_rows(session, rows)
            await session.commit()
    except Exception:
        log.exception("could not write %d audit rows of a failed request", len(rows))
