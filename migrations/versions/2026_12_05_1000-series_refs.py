"""procedure series: the sending system's reference, so events can name a staged series

Revision ID: 0018_series_refs
Revises: 0017_web_sessions
Create Date: 2026-12-05 10:00:00+00:00

Issue 19, section 7: `procedure.performed` events carry `series` (the sender's series
reference, stage k, planned sessions n). The series a sender names is found by
(external_source, external_ref), unique when set; REST-created series leave both null.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_series_refs"
down_revision: str | Sequence[str] | None = "0017_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTERs, not a batch copy: recreating procedure_series on SQLite (foreign keys on)
    # would touch the procedures that reference it
    op.add_column("procedure_series", sa.Column("external_source", sa.String(120), nullable=True))
    op.add_column("procedure_series", sa.Column("external_ref", sa.String(200), nullable=True))
    op.create_index(
        "uq_procedure_series_external",
        "procedure_series",
        ["external_source", "external_ref"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_procedure_series_external", table_name="procedure_series")
    op.drop_column("procedure_series", "external_ref")  # SQLite >= 3.35 drops columns in place
    op.drop_column("procedure_series", "external_source")
