"""The senders' identifiers of procedures and observations (table resource_identifiers): kept
with the record an event creates, looked up to find that record again, read back by the FHIR
renderers. Patients' identifiers have their own table (patient_identifiers)."""

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, FieldIssue
from app.ingestion.context import Context
from app.models import FollowUpEvent, Procedure, ResourceIdentifier

Identifier = tuple[str, str]  # (system, value)
ResourceType = Literal["Procedure", "Observation"]
# the registry's own identifiers (urn:vertebro:patient|<id>, ...) name its records by id
OWN_SYSTEMS = "urn:vertebro:"
MAX_IDENTIFIERS = 20
_RI = ResourceIdentifier


class IdentifierTaken(Conflict):
    def __init__(self, resource_type: str, key: Identifier) -> None:
        super().__init__(
            f"The {resource_type} identifier {key[0]}|{key[1]} already names another record "
            "(another patient's, or one sent with another identity); nothing was changed.",
            "identifier-taken",
        )
        self.errors = (FieldIssue("identifier", self.detail),)


@dataclass(frozen=True)
class Owner:
    record_id: uuid.UUID
    patient_id: uuid.UUID


def kept(identifiers: Sequence[Identifier]) -> tuple[Identifier, ...]:
    """The identifiers stored for a record: the sender's own, each once, in the order sent."""
    return tuple(dict.fromkeys(i for i in identifiers if not i[0].startswith(OWN_SYSTEMS)))


async def owner(
    session: AsyncSession, resource_type: ResourceType, key: Identifier
) -> Owner | None:
    """The record a sender's identifier names, and its patient."""
    model = Procedure if resource_type == "Procedure" else FollowUpEvent
    column = _RI.procedure_id if resource_type == "Procedure" else _RI.follow_up_id
    row = (
        await session.execute(
            select(model.id, model.patient_id)
            .join(_RI, column == model.id)
            .where(_RI.resource_type == resource_type, _RI.system == key[0], _RI.value == key[1])
        )
    ).first()
    return Owner(row[0], row[1]) if row else None


async def keep(
    ctx: Context,
    resource_type: ResourceType,
    identifiers: Sequence[Identifier],
    record_id: uuid.UUID,
) -> None:
    """Store the identifiers of the record an event just made (written at the context's next
    flush, after the record). One that already names another record refuses the event."""
    if not identifiers:
        return
    stored = await ctx.session.execute(
        select(_RI.system, _RI.value).where(
            _RI.resource_type == resource_type, _RI.value.in_({v for _s, v in identifiers})
        )
    )
    taken = {(s, v) for s, v in stored} | {
        (r["system"], r["value"]) for r in ctx.identifiers if r["resource_type"] == resource_type
    }
    for key in identifiers:
        if key in taken:
            raise IdentifierTaken(resource_type, key)
    owner_column = "procedure_id" if resource_type == "Procedure" else "follow_up_id"
    ctx.identifiers.extend(
        {
            "resource_type": resource_type,
            "system": system,
            "value": value,
            "position": position,
            "procedure_id": None,
            "follow_up_id": None,
            owner_column: record_id,
        }
        for position, (system, value) in enumerate(identifiers)
    )


async def of_records(
    session: AsyncSession, resource_type: ResourceType, record_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The stored identifiers of these records, in the order sent, as FHIR Identifier values."""
    if not record_ids:
        return {}
    column = _RI.procedure_id if resource_type == "Procedure" else _RI.follow_up_id
    rows = await session.execute(
        select(column, _RI.system, _RI.value)
        .where(_RI.resource_type == resource_type, column.in_(list(record_ids)))
        .order_by(column, _RI.position)
    )
    found: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for record_id, system, value in rows:
        found[cast(uuid.UUID, record_id)].append({"system": system, "value": value})
    return found
