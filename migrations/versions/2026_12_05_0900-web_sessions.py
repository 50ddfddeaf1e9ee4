"""web sessions: a row per signed-in web session, so sign-out holds in every API process

Revision ID: 0017_web_sessions
Revises: 0016_worklist
Create Date: 2026-12-05 09:00:00+00:00

Issue 18: the web pages' sign-out was remembered in one process's memory; with several API
processes a signed-out cookie lived until its expiry. Each session now has a row; a request
whose session row is ended or missing is signed out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision: str = "0017_web_sessions"
down_revision: str | Sequence[str] | None = "0016_worklist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_web_sessions_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    op.create_index(
        op.f("ix_web_sessions_api_key_id"), "web_sessions", ["api_key_id"], unique=False
    )
    op.create_index(
        op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_expires_at"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_api_key_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
