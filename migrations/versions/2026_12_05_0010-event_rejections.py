"""event rejections: the events the registry refused, so the sender can find them

Revision ID: 0015_event_rejections
Revises: 0014_disclosure_keys
Create Date: 2026-12-05 00:10:00+00:00

Issue 20, section 1: GET /events?status=rejected, ?event_id=, ?identifier= list refused events
beside accepted ones. Rows are purged after EVENT_REJECTIONS_RETENTION_DAYS. (Branches from
0012 for now: the lead re-chains it after 0013.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import JSONType, UTCDateTime

revision: str = "0015_event_rejections"
down_revision: str | Sequence[str] | None = "0014_disclosure_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_rejections",
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("type", sa.String(length=40), nullable=True),
        sa.Column("patient_system", sa.String(length=200), nullable=True),
        sa.Column("patient_value", sa.String(length=200), nullable=True),
        sa.Column("payload", JSONType, nullable=True),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("problem", JSONType, nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_rejections")),
    )
    op.create_index(
        "ix_event_rejections_key", "event_rejections", ["source", "event_id"], unique=False
    )
    op.create_index(
        "ix_event_rejections_patient",
        "event_rejections",
        ["patient_system", "patient_value"],
        unique=False,
    )
    op.create_index(
        op.f("ix_event_rejections_received_at"), "event_rejections", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_event_rejections_received_at"), table_name="event_rejections")
    op.drop_index("ix_event_rejections_patient", table_name="event_rejections")
    op.drop_index("ix_event_rejections_key", table_name="event_rejections")
    op.drop_table("event_rejections")
