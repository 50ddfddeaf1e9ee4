"""disclosure keys: a permanent random secret per patient for the statistics' noise

Revision ID: 0014_disclosure_keys
Revises: 0013
Create Date: 2026-12-05 00:30:00+00:00

Issue 16 (docs/disclosure-control-design.md section 3.1): `stats:read` figures are perturbed
by a noise that is a keyed function of the members' keys, so the same cell always gets the same
noise and two overlapping cells independent ones.

- patients.disclosure_key: 63 random bits, NOT NULL, never exposed. New rows get one from the
  model (Python `secrets`); existing rows get a random one here, per row: from
  gen_random_uuid() on PostgreSQL, from random() on SQLite.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_disclosure_keys"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the low 63 bits of a random value, so the key is a non-negative BIGINT
_POSTGRESQL_KEY = (
    "(('x' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16))::bit(64)::bigint"
    " & 9223372036854775807)"
)
_SQLITE_KEY = "(random() & 9223372036854775807)"


def upgrade() -> None:
    # plain DDL, as in 0012: a batch operation would copy `patients` on SQLite and drop the
    # summary triggers with it. SQLite adds a NOT NULL column only with a default (0, never
    # kept: every row gets a random key below, every new row one from the model).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE patients ADD COLUMN disclosure_key BIGINT")
        op.execute(f"UPDATE patients SET disclosure_key = {_POSTGRESQL_KEY}")  # per row
        op.execute("ALTER TABLE patients ALTER COLUMN disclosure_key SET NOT NULL")
    else:
        op.execute("ALTER TABLE patients ADD COLUMN disclosure_key BIGINT NOT NULL DEFAULT 0")
        op.execute(f"UPDATE patients SET disclosure_key = {_SQLITE_KEY}")  # per row


def downgrade() -> None:
    op.execute("ALTER TABLE patients DROP COLUMN disclosure_key")
