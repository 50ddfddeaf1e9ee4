"""event log: a partial index of the events still waiting (GET /api/v1/events filters)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 12:00:00+00:00

The event log only grows; the events an integration team looks for (a complication pending
its procedure, a follow-up whose procedure_ref has not arrived, a failed one) are few. A
partial index on the log's id keeps their page a short index scan instead of a walk of the
whole log.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSETTLED = "awaiting_procedure OR status IN ('pending', 'failed')"


def upgrade() -> None:
    op.create_index(
        "ix_event_log_unsettled",
        "event_log",
        ["id"],
        postgresql_where=sa.text(UNSETTLED),
        sqlite_where=sa.text(UNSETTLED),
    )


def downgrade() -> None:
    op.drop_index("ix_event_log_unsettled", table_name="event_log")
