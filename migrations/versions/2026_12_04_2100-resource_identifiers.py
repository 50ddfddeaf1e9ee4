"""resource identifiers: the senders' identifiers of procedures and observations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:00:00+00:00

The FHIR door kept a procedure's first identifier (as its reference) and dropped every other
identifier, an observation's included, so a retried create made a second record and a read
did not give the sender's identifiers back. They are kept now, unique per resource type and
(system, value) like patients' identifiers, and deleted with their record.

Resources accepted before this revision get theirs from the event log, which kept each one as
received; the registry's own identifiers (urn:vertebro:...) name records by id and are not
stored.
"""

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.models.base import JSONType, new_id

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNER = (
    "(resource_type = 'Procedure' AND procedure_id IS NOT NULL AND follow_up_id IS NULL) OR "
    "(resource_type = 'Observation' AND follow_up_id IS NOT NULL AND procedure_id IS NULL)"
)
OWN_SYSTEMS = "urn:vertebro:"
# event type -> (FHIR resource type, owner table, owner column)
OWNERS = {
    "procedure.performed": ("Procedure", "procedures", "procedure_id"),
    "pain.scored": ("Observation", "follow_up_events", "follow_up_id"),
    "performance.scored": ("Observation", "follow_up_events", "follow_up_id"),
    "function.scored": ("Observation", "follow_up_events", "follow_up_id"),
}
CHUNK = 500


def upgrade() -> None:
    op.create_table(
        "resource_identifiers",
        sa.Column("resource_type", sa.String(length=16), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("procedure_id", sa.Uuid(), nullable=True),
        sa.Column("follow_up_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(OWNER, name=op.f("ck_resource_identifiers_one_owner")),
        sa.ForeignKeyConstraint(
            ["follow_up_id"],
            ["follow_up_events.id"],
            name=op.f("fk_resource_identifiers_follow_up_id_follow_up_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_resource_identifiers_procedure_id_procedures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_identifiers")),
        sa.UniqueConstraint(
            "resource_type",
            "system",
            "value",
            name=op.f("uq_resource_identifiers_resource_type_system_value"),
        ),
    )
    op.create_index(
        op.f("ix_resource_identifiers_follow_up_id"), "resource_identifiers", ["follow_up_id"]
    )
    op.create_index(
        op.f("ix_resource_identifiers_procedure_id"), "resource_identifiers", ["procedure_id"]
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index(op.f("ix_resource_identifiers_procedure_id"), table_name="resource_identifiers")
    op.drop_index(op.f("ix_resource_identifiers_follow_up_id"), table_name="resource_identifiers")
    op.drop_table("resource_identifiers")


def _backfill(bind: sa.Connection) -> None:
    log = sa.table(
        "event_log",
        sa.column("type", sa.String()),
        sa.column("payload", JSONType),
        sa.column("record_id", sa.Uuid()),
        sa.column("status", sa.String()),
    )
    found = bind.execute(
        sa.select(log.c.type, log.c.payload, log.c.record_id).where(
            log.c.type.in_(OWNERS), log.c.status == "applied", log.c.record_id.is_not(None)
        )
    ).all()
    candidates = [
        (event_type, record_id, payload)
        for event_type, payload, record_id in found
        if isinstance(payload, dict)
        and payload.get("resourceType") == OWNERS[event_type][0]  # the FHIR door's events
    ]
    existing: set[Any] = set()
    for table in {t for _r, t, _c in OWNERS.values()}:
        ids = [record_id for e, record_id, _p in candidates if OWNERS[e][1] == table]
        existing |= _present(bind, table, ids)
    rows: list[dict[str, Any]] = []
    taken: set[tuple[str, str, str]] = set()
    for event_type, record_id, payload in candidates:
        resource_type, _table, column = OWNERS[event_type]
        if record_id not in existing:
            continue  # retracted, or deleted since
        for position, (system, value) in enumerate(_identifiers(payload)):
            if (resource_type, system, value) in taken:
                continue
            taken.add((resource_type, system, value))
            rows.append(
                {
                    "id": new_id(),
                    "resource_type": resource_type,
                    "system": system,
                    "value": value,
                    "position": position,
                    "procedure_id": record_id if column == "procedure_id" else None,
                    "follow_up_id": record_id if column == "follow_up_id" else None,
                }
            )
    if rows:
        target = sa.table(
            "resource_identifiers",
            *(sa.column(name) for name in ("resource_type", "system", "value", "position")),
            *(sa.column(name, sa.Uuid()) for name in ("id", "procedure_id", "follow_up_id")),
        )
        bind.execute(target.insert(), rows)


def _present(bind: sa.Connection, table: str, ids: Sequence[Any]) -> set[Any]:
    rows = sa.table(table, sa.column("id", sa.Uuid()))
    present: set[Any] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        present |= set(bind.execute(sa.select(rows.c.id).where(rows.c.id.in_(chunk))).scalars())
    return present


def _identifiers(payload: dict[str, Any]) -> Iterable[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for ident in payload.get("identifier") or []:
        if not isinstance(ident, dict):
            continue
        system, value = ident.get("system"), ident.get("value")
        if not (isinstance(system, str) and isinstance(value, str) and system and value):
            continue
        if system.startswith(OWN_SYSTEMS) or len(system) > 200 or len(value) > 200:
            continue
        seen[(system, value)] = None
    return seen
