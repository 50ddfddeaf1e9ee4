"""bulk exports: FHIR Bulk Data $export jobs

Revision ID: 0019_bulk_exports
Revises: 0018_series_refs
Create Date: 2026-12-05 10:10:00+00:00

Issue 19, section 6: GET /fhir/r4/$export and Patient/$export are answered 202 with a status
URL; a background job writes one NDJSON file per resource type; the files are served to the
credential that asked until they expire.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import JSONType, UTCDateTime

revision: str = "0019_bulk_exports"
down_revision: str | Sequence[str] | None = "0018_series_refs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulk_exports",
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("sees_identifiers", sa.Boolean(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("request", sa.String(length=2000), nullable=False),
        sa.Column("types", JSONType, nullable=False),
        sa.Column("since", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("transaction_time", UTCDateTime(), nullable=False),
        sa.Column("progress", sa.String(length=200), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("output", JSONType, nullable=True),
        sa.Column("patient_ids", JSONType, nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_exports")),
    )
    op.create_index(
        op.f("ix_bulk_exports_credential_id"), "bulk_exports", ["credential_id"], unique=False
    )
    op.create_index(
        op.f("ix_bulk_exports_expires_at"), "bulk_exports", ["expires_at"], unique=False
    )
    op.create_index("ix_bulk_exports_status", "bulk_exports", ["status", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_bulk_exports_status", table_name="bulk_exports")
    op.drop_index(op.f("ix_bulk_exports_expires_at"), table_name="bulk_exports")
    op.drop_index(op.f("ix_bulk_exports_credential_id"), table_name="bulk_exports")
    op.drop_table("bulk_exports")
