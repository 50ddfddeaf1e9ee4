"""imaging triggers: marks of the patients whose evaluation follows the ingesting commit

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:00:00+00:00

Ingestion no longer evaluates imaging triggers inside its own transaction (concurrent batches
for the same patients queued on each other's trigger rows until commit). It leaves a mark per
patient there instead; the evaluation runs right after the commit and deletes the marks it
covered, and a mark that outlives a crash is evaluated by the periodic sweep.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imaging_trigger_marks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_trigger_marks")),
    )
    op.create_index(
        op.f("ix_imaging_trigger_marks_created_at"), "imaging_trigger_marks", ["created_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_imaging_trigger_marks_created_at"), table_name="imaging_trigger_marks")
    op.drop_table("imaging_trigger_marks")
