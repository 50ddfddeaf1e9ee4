"""outcome statistics: one aggregate for a distribution's n, sum and squared deviations

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 04:00:00+00:00

PostgreSQL only (SQLite computes the moments from count, avg and sum(x * x)). The statistics
ran count(x), avg(x) and stddev_samp(x) for each of ~53 distributions: avg and stddev_samp
share one transition state, count(x) is a second aggregate per row. `outcome_moments(x)` is
the built-in transition function of avg/stddev (float8_accum) returning its state, the array
{N, Sx, Sxx} (Youngs-Cramer: Sxx is the sum of squared deviations), from which Python takes
n = N, the mean Sx / N and the SD sqrt(Sxx / (N - 1)): the same operations, so the same
values, as avg and stddev_samp.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE AGGREGATE outcome_moments(double precision) ("
        " SFUNC = float8_accum, STYPE = double precision[], INITCOND = '{0,0,0}',"
        " COMBINEFUNC = float8_combine, PARALLEL = SAFE)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP AGGREGATE outcome_moments(double precision)")
