"""outcome statistics: a faster summary layout, change columns, the trajectory's pain scores

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 01:00:00+00:00

Derived data only (app/outcomes/summary.py fills it), so the tables are recreated empty and
every patient is marked for recomputation (app.outcomes.definitions.SUMMARY_VERSION changes
too: the next statistics read rebuilds the summary):

- outcome_episodes: the columns every aggregate reads first (PostgreSQL decodes a row up to
  the last column a statement uses), and the change from baseline of each score at each time
  point stored instead of computed per figure;
- outcome_pain_scores: every back-pain score after t0 and inside an episode with its whole
  days since t0, read by the pain trajectory instead of every follow-up event.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POINTS = ("base", "d7", "d14", "d30", "d90", "d180", "d365")
DAYS = POINTS[1:]
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COMPLICATIONS = (
    "cx_total", "cx_sessions", "cx_level_linked", "cx_levels", "cx_major", "cx_symptomatic",
    *(f"cx_sir_{g}" for g in ("a", "b", "c", "d", "e", "f", "ungraded")),
    *(f"cx_sir2017_{g}"
      for g in ("mild", "moderate", "severe", "life_threatening", "death", "ungraded")),
    *(f"cx_cirse_{g}" for g in ("1", "2", "3", "4", "5", "6", "ungraded")),
)  # fmt: skip
LEAKAGE = (
    "none", "basivertebral_vein", "segmental_vein", "cortical_paravertebral", "intradiscal",
    "epidural", "foraminal", "not_recorded",
)  # fmt: skip


def _columns() -> dict[str, sa.Column[Any]]:
    """Every column of outcome_episodes (0005 and this revision), by name."""
    utc = app.models.base.UTCDateTime(timezone=True)

    def col(name: str, kind: Any, nullable: bool = False) -> sa.Column[Any]:
        return sa.Column(name, kind, nullable=nullable)

    columns = [
        col("episode_key", sa.Uuid()),
        col("patient_id", sa.Uuid()),
        col("kind", sa.String(length=32)),
        col("indication", sa.String(length=32), True),
        col("staged", sa.Boolean()),
        col("first_at", utc),
        col("t0", utc),
        col("ended_at", utc, True),
        col("first_us", sa.BigInteger()),
        col("t0_us", sa.BigInteger()),
        *(col(n, sa.Integer()) for n in ("n_sessions", "n_levels", "max_levels", "n_repeats")),
        col("has_repeat", sa.Boolean()),
        col("level_mask", sa.BigInteger()),
        *(col(f"leakage_{site}", sa.Integer()) for site in LEAKAGE),
        *(col(region, sa.Boolean()) for region in ("cervical", "thoracic", "lumbar", "sacral")),
        col("sex", sa.String(length=16)),
        col("histology", sa.String(length=120), True),
        col("histology_key", sa.String(length=120), True),
        col("age", sa.Integer(), True),
        col("death_date", sa.Date(), True),
        col("patient_episodes", sa.Integer()),
        col("patient_levels", sa.Integer()),
        *(col(f"{m}_{p}", sa.Double(), True) for m in ("pain", "ps", "odi") for p in POINTS),
        *(col(f"{m}_change_{d}", sa.Double(), True) for m in ("pain", "ps", "odi") for d in DAYS),
        *(col(f"{f}_{d}", sa.Boolean(), True)
          for f in ("improved", "band30", "band50") for d in DAYS),
        *(col(f"med_{p}", sa.Boolean()) for p in POINTS),
        *(col(f"ome_{p}", sa.Double(), True) for p in POINTS),
        *(col(f"omekg_{p}", sa.Double(), True) for p in POINTS),
        *(col(f"opioid_free_{p}", sa.Boolean(), True) for p in POINTS),
        *(col(f"window_{d}", sa.Boolean()) for d in DAYS),
        *(col(c, sa.Integer(), True) for c in COMPLICATIONS),
        col("patient_complications", sa.Integer()),
        col("recurrence_day", sa.Integer(), True),
        col("recurrence_event", sa.Boolean()),
        col("survival_day", sa.Integer()),
        col("survival_event", sa.Boolean()),
    ]  # fmt: skip
    return {c.name: c for c in columns}


# 0005's order
OLD_ORDER = (
    "episode_key", "patient_id", "kind", "indication", "staged", "first_at", "t0", "ended_at",
    "first_us", "t0_us", "n_sessions", "n_levels", "max_levels", "n_repeats", "has_repeat",
    "level_mask", *(f"leakage_{site}" for site in LEAKAGE), "cervical", "thoracic", "lumbar",
    "sacral", "sex", "histology", "histology_key", "age", "death_date", "patient_episodes",
    "patient_levels", *(f"{m}_{p}" for m in ("pain", "ps", "odi") for p in POINTS),
    *(f"{f}_{d}" for f in ("improved", "band30", "band50") for d in DAYS),
    *(f"{m}_{p}" for m in ("med", "ome", "omekg", "opioid_free") for p in POINTS),
    *(f"window_{d}" for d in DAYS), *COMPLICATIONS, "patient_complications", "recurrence_day",
    "recurrence_event", "survival_day", "survival_event",
)  # fmt: skip
# what every statement reads first, fixed-width columns leading; unread columns last
NEW_ORDER = (
    "episode_key", "patient_id", "first_us", "t0_us", "level_mask", "patient_episodes",
    "patient_levels", "patient_complications", "n_sessions", "n_levels", "max_levels",
    "n_repeats", "staged", "has_repeat", "cervical", "thoracic", "lumbar", "sacral",
    "survival_day", "survival_event", "recurrence_event", "recurrence_day", "age", "kind", "sex",
    "indication", "histology_key", *(f"leakage_{site}" for site in LEAKAGE),
    *(f"{m}_{p}" for p in POINTS for m in ("pain",)),
    *(f"pain_change_{d}" for d in DAYS),
    *(f"{f}_{d}" for f in ("improved", "band30", "band50") for d in DAYS),
    *(f"ps_{p}" for p in POINTS), *(f"ps_change_{d}" for d in DAYS),
    *(f"odi_{p}" for p in POINTS), *(f"odi_change_{d}" for d in DAYS),
    *(f"{m}_{p}" for m in ("med", "ome", "omekg", "opioid_free") for p in POINTS),
    *(f"window_{d}" for d in DAYS), *COMPLICATIONS,
    "histology", "first_at", "t0", "ended_at", "death_date",
)  # fmt: skip


def _create_episodes(order: Sequence[str]) -> None:
    columns = _columns()
    op.create_table(
        "outcome_episodes",
        *(columns[name] for name in order),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_outcome_episodes_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("episode_key", name=op.f("pk_outcome_episodes")),
    )
    with op.batch_alter_table("outcome_episodes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outcome_episodes_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_outcome_episodes_histology_key_first_us",
            ["histology_key", "first_us"],
            unique=False,
        )
        batch_op.create_index("ix_outcome_episodes_first_us", ["first_us"], unique=False)


def _drop_episodes() -> None:
    with op.batch_alter_table("outcome_episodes", schema=None) as batch_op:
        batch_op.drop_index("ix_outcome_episodes_first_us")
        batch_op.drop_index("ix_outcome_episodes_histology_key_first_us")
        batch_op.drop_index(batch_op.f("ix_outcome_episodes_patient_id"))
    op.drop_table("outcome_episodes")


def _recompute_everyone() -> None:
    op.execute("INSERT INTO outcome_dirty (patient_id) SELECT id FROM patients")


def upgrade() -> None:
    _drop_episodes()
    _create_episodes(NEW_ORDER)
    op.create_table(
        "outcome_pain_scores",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("episode_key", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_outcome_pain_scores_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_pain_scores")),
    )
    with op.batch_alter_table("outcome_pain_scores", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outcome_pain_scores_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_outcome_pain_scores_episode_key_day",
            ["episode_key", "day", "score"],
            unique=False,
        )
    _recompute_everyone()


def downgrade() -> None:
    with op.batch_alter_table("outcome_pain_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_outcome_pain_scores_episode_key_day")
        batch_op.drop_index(batch_op.f("ix_outcome_pain_scores_patient_id"))
    op.drop_table("outcome_pain_scores")
    _drop_episodes()
    _create_episodes(OLD_ORDER)
    _recompute_everyone()
