"""event ingestion: the event log and Idempotency-Key answers (issue 4)

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26 23:10:00+00:00

Branches from 0001 in parallel with the other areas; the lead linearizes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.models.base

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("payload_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("result", JSON, nullable=False),
        sa.Column("procedure_system", sa.String(length=120), nullable=True),
        sa.Column("procedure_ref", sa.String(length=200), nullable=True),
        sa.Column("awaiting_procedure", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("retracted_by", sa.String(length=200), nullable=True),
        sa.Column("problem", JSON, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_log")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_event_log_source_event_id")),
    )
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_event_log_procedure_key", ["procedure_system", "procedure_ref"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_event_log_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_log_record_id"), ["record_id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=400), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_headers", JSON, nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("key", "scope", name=op.f("uq_idempotency_keys_key_scope")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_log_record_id"))
        batch_op.drop_index(batch_op.f("ix_event_log_patient_id"))
        batch_op.drop_index("ix_event_log_procedure_key")
    op.drop_table("event_log")
