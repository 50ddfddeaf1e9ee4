"""histology group: the coded ICCC-3 group the statistics use, beside the free-text histology

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:00:00+00:00

Issue 15, item 7: /stats/breakdown?by=histology published the free-text histology (lower-cased)
as its group names, and one patient's read "LCH, Jane Roe (MRN 4471) ...". The statistics now
group and filter by a controlled vocabulary only:

- patients.histology_group: one of the 12 main diagnostic groups of ICCC-3 by numeral ("I" to
  "XII", app.models.enums.HistologyGroup), or null. A CHECK keeps anything else out whoever
  writes, since the statistics publish it as a label. Existing patients get none: the group is
  the sender's classification, never guessed from the free text, which stays as recorded.
- outcome_episodes: histology_group where histology_key (the lower-cased free text) was, and no
  histology (the free text, read by nothing). Derived data only, so the table is recreated
  empty in 0007's layout and every patient is marked for recomputation
  (app.outcomes.definitions.SUMMARY_VERSION changes too).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUPS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
POINTS = ("base", "d7", "d14", "d30", "d90", "d180", "d365")
DAYS = POINTS[1:]
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
    """Every column outcome_episodes had in 0007 to 0011, and histology_group, by name."""
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
        col("histology_group", sa.String(length=4), True),
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


def _order(histology: str, *unread: str) -> tuple[str, ...]:
    """0007's layout (what every statement reads first, fixed-width columns leading; unread
    columns last) with `histology` as the cohort's histology column."""
    return (
        "episode_key", "patient_id", "first_us", "t0_us", "level_mask", "patient_episodes",
        "patient_levels", "patient_complications", "n_sessions", "n_levels", "max_levels",
        "n_repeats", "staged", "has_repeat", "cervical", "thoracic", "lumbar", "sacral",
        "survival_day", "survival_event", "recurrence_event", "recurrence_day", "age", "kind",
        "sex", "indication", histology, *(f"leakage_{site}" for site in LEAKAGE),
        *(f"{m}_{p}" for p in POINTS for m in ("pain",)),
        *(f"pain_change_{d}" for d in DAYS),
        *(f"{f}_{d}" for f in ("improved", "band30", "band50") for d in DAYS),
        *(f"ps_{p}" for p in POINTS), *(f"ps_change_{d}" for d in DAYS),
        *(f"odi_{p}" for p in POINTS), *(f"odi_change_{d}" for d in DAYS),
        *(f"{m}_{p}" for m in ("med", "ome", "omekg", "opioid_free") for p in POINTS),
        *(f"window_{d}" for d in DAYS), *COMPLICATIONS,
        *unread, "first_at", "t0", "ended_at", "death_date",
    )  # fmt: skip


def _create_episodes(histology: str, *unread: str) -> None:
    columns = _columns()
    op.create_table(
        "outcome_episodes",
        *(columns[name] for name in _order(histology, *unread)),
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
            f"ix_outcome_episodes_{histology}_first_us", [histology, "first_us"], unique=False
        )
        batch_op.create_index("ix_outcome_episodes_first_us", ["first_us"], unique=False)


def _drop_episodes(histology: str) -> None:
    with op.batch_alter_table("outcome_episodes", schema=None) as batch_op:
        batch_op.drop_index("ix_outcome_episodes_first_us")
        batch_op.drop_index(f"ix_outcome_episodes_{histology}_first_us")
        batch_op.drop_index(batch_op.f("ix_outcome_episodes_patient_id"))
    op.drop_table("outcome_episodes")


def _recompute_everyone() -> None:
    op.execute("INSERT INTO outcome_dirty (patient_id) SELECT id FROM patients")


def upgrade() -> None:
    # plain DDL, the same on both databases: SQLite adds the column and its CHECK in place,
    # where a batch operation would copy the table and drop its summary triggers with it
    codes = ", ".join(f"'{code}'" for code in GROUPS)
    op.execute(
        "ALTER TABLE patients ADD COLUMN histology_group VARCHAR(4) "
        f"CONSTRAINT ck_patients_histology_group CHECK (histology_group IN ({codes}))"
    )
    _drop_episodes("histology_key")
    _create_episodes("histology_group")
    _recompute_everyone()


def downgrade() -> None:
    _drop_episodes("histology_group")
    _create_episodes("histology_key", "histology")
    op.execute("ALTER TABLE patients DROP COLUMN histology_group")
    _recompute_everyone()
