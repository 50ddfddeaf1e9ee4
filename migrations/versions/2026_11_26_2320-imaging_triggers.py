"""imaging triggers and webhook notifications (issue 5)

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26 23:20:00+00:00

Branches from 0001 in parallel with the other areas; the lead linearizes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.models.base

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column(
            "events",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            app.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            app.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_table(
        "imaging_triggers",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("episode_key", sa.Uuid(), nullable=False),
        sa.Column("procedure_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=24), nullable=False),
        sa.Column("occurrence", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="open", nullable=False),
        sa.Column("t0", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("baseline", sa.Numeric(precision=6, scale=2, asdecimal=False), nullable=True),
        sa.Column("closed_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            app.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            app.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "rule IN ('no_improvement', 'follow_up_overdue', 'worsening')",
            name=op.f("ck_imaging_triggers_rule"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'imaging_ordered', 'resolved', 'dismissed', "
            "'superseded')",
            name=op.f("ck_imaging_triggers_status"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_imaging_triggers_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_imaging_triggers_procedure_id_procedures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_triggers")),
        sa.UniqueConstraint(
            "episode_key",
            "rule",
            "occurrence",
            "generation",
            name=op.f("uq_imaging_triggers_episode_key_rule_occurrence_generation"),
        ),
    )
    op.create_index(
        op.f("ix_imaging_triggers_batch_id"), "imaging_triggers", ["batch_id"], unique=False
    )
    op.create_index(
        "ix_imaging_triggers_patient_id_due_at",
        "imaging_triggers",
        ["patient_id", "due_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_imaging_triggers_procedure_id"), "imaging_triggers", ["procedure_id"], unique=False
    )
    op.create_index(
        "ix_imaging_triggers_status_due_at", "imaging_triggers", ["status", "due_at"], unique=False
    )
    op.create_table(
        "imaging_day14_checks",
        sa.Column("episode_key", sa.Uuid(), nullable=False),
        sa.Column("t0_procedure_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("t0", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("baseline", sa.Numeric(precision=6, scale=2, asdecimal=False), nullable=True),
        sa.Column("baseline_event_id", sa.Uuid(), nullable=True),
        sa.Column("checked_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["baseline_event_id"],
            ["follow_up_events.id"],
            name=op.f("fk_imaging_day14_checks_baseline_event_id_follow_up_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_imaging_day14_checks_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["t0_procedure_id"],
            ["procedures.id"],
            name=op.f("fk_imaging_day14_checks_t0_procedure_id_procedures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "episode_key", "t0_procedure_id", name=op.f("pk_imaging_day14_checks")
        ),
    )
    op.create_index(
        op.f("ix_imaging_day14_checks_batch_id"), "imaging_day14_checks", ["batch_id"], unique=False
    )
    op.create_index(
        op.f("ix_imaging_day14_checks_patient_id"),
        "imaging_day14_checks",
        ["patient_id"],
        unique=False,
    )
    op.create_table(
        "imaging_trigger_evidence",
        sa.Column("trigger_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Numeric(precision=6, scale=2, asdecimal=False), nullable=False),
        sa.Column("occurred_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["follow_up_events.id"],
            name=op.f("fk_imaging_trigger_evidence_event_id_follow_up_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["imaging_triggers.id"],
            name=op.f("fk_imaging_trigger_evidence_trigger_id_imaging_triggers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "trigger_id", "event_id", "role", name=op.f("pk_imaging_trigger_evidence")
        ),
    )
    op.create_index(
        op.f("ix_imaging_trigger_evidence_event_id"),
        "imaging_trigger_evidence",
        ["event_id"],
        unique=False,
    )
    op.create_table(
        "imaging_trigger_transitions",
        sa.Column("trigger_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["imaging_triggers.id"],
            name=op.f("fk_imaging_trigger_transitions_trigger_id_imaging_triggers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_trigger_transitions")),
    )
    op.create_index(
        op.f("ix_imaging_trigger_transitions_trigger_id"),
        "imaging_trigger_transitions",
        ["trigger_id"],
        unique=False,
    )
    op.create_table(
        "outbox_messages",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("trigger_id", sa.Uuid(), nullable=False),
        sa.Column("trigger_status", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=80), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_outbox_messages_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["imaging_triggers.id"],
            name=op.f("fk_outbox_messages_trigger_id_imaging_triggers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index(
        "ix_outbox_messages_status_next_attempt_at",
        "outbox_messages",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_outbox_messages_subscription_id"),
        "outbox_messages",
        ["subscription_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_outbox_messages_trigger_id"), "outbox_messages", ["trigger_id"], unique=False
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=80), nullable=False),
        sa.Column("started_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_delivery_attempts_message_id_outbox_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        op.f("ix_delivery_attempts_message_id"), "delivery_attempts", ["message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_attempts_message_id"), table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index(op.f("ix_outbox_messages_trigger_id"), table_name="outbox_messages")
    op.drop_index(op.f("ix_outbox_messages_subscription_id"), table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_status_next_attempt_at", table_name="outbox_messages")
    op.drop_table("outbox_messages")
    op.drop_index(
        op.f("ix_imaging_trigger_transitions_trigger_id"), table_name="imaging_trigger_transitions"
    )
    op.drop_table("imaging_trigger_transitions")
    op.drop_index(
        op.f("ix_imaging_trigger_evidence_event_id"), table_name="imaging_trigger_evidence"
    )
    op.drop_table("imaging_trigger_evidence")
    op.drop_index(op.f("ix_imaging_day14_checks_patient_id"), table_name="imaging_day14_checks")
    op.drop_index(op.f("ix_imaging_day14_checks_batch_id"), table_name="imaging_day14_checks")
    op.drop_table("imaging_day14_checks")
    op.drop_index("ix_imaging_triggers_status_due_at", table_name="imaging_triggers")
    op.drop_index(op.f("ix_imaging_triggers_procedure_id"), table_name="imaging_triggers")
    op.drop_index("ix_imaging_triggers_patient_id_due_at", table_name="imaging_triggers")
    op.drop_index(op.f("ix_imaging_triggers_batch_id"), table_name="imaging_triggers")
    op.drop_table("imaging_triggers")
    op.drop_table("webhook_subscriptions")
