"""imaging triggers: the status `closed` (a patient's death closes their open triggers)

Revision ID: 0016_worklist
Revises: 0015_event_rejections
Create Date: 2026-12-04 23:45:00+00:00

Issue 18, section 1: a patient's death closes their open imaging triggers with the status
`closed` (reason `patient_died`, actor `system`, in the trigger's history). Only the CHECK of
imaging_triggers.status changes, to allow the new value.

SQLite cannot alter a CHECK constraint, and rebuilding the table would drop it first, which
(foreign keys on) cascades to its evidence, history and outbox rows. A CHECK that only gets
wider changes no stored data, so the table's recorded SQL is edited in place, as SQLite's
documentation describes for such changes ("ALTER TABLE", section 7: writable_schema, then a
new schema_version so every connection re-reads the schema).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016_worklist"
down_revision: str | Sequence[str] | None = "0015_event_rejections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "'open', 'acknowledged', 'imaging_ordered', 'resolved', 'dismissed', 'superseded'"
NEW = OLD + ", 'closed'"
NAME = "ck_imaging_triggers_status"


def _sqlite_check(old: str, new: str) -> None:
    conn = op.get_bind()
    version = int(conn.exec_driver_sql("PRAGMA schema_version").scalar_one())
    conn.exec_driver_sql("PRAGMA writable_schema=ON")
    conn.exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) "
        "WHERE type = 'table' AND name = 'imaging_triggers'",
        (f"CHECK (status IN ({old}))", f"CHECK (status IN ({new}))"),
    )
    conn.exec_driver_sql(f"PRAGMA schema_version={version + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema=OFF")


def _postgres_check(values: str) -> None:
    op.execute(f"ALTER TABLE imaging_triggers DROP CONSTRAINT {NAME}")
    op.execute(f"ALTER TABLE imaging_triggers ADD CONSTRAINT {NAME} CHECK (status IN ({values}))")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_check(OLD, NEW)
    else:
        _postgres_check(NEW)


def downgrade() -> None:
    # before 0016 a death left triggers as they were: a closed trigger reads as dismissed (its
    # history keeps the reason)
    op.execute("UPDATE imaging_triggers SET status = 'dismissed' WHERE status = 'closed'")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_check(NEW, OLD)
    else:
        _postgres_check(OLD)
