"""outcome statistics: the per-episode summary and the triggers that keep it current (issue 6)

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-26 23:30:00+00:00

Branches from 0001 in parallel with the other areas; the lead linearizes.

The triggers append the patient of every written row of procedures, levels_treated,
complications, follow_up_events (insert, update, delete) and patients (update) to
outcome_dirty, in the writer's transaction. PostgreSQL: one statement-level trigger per table
and event with a transition table (a bulk insert adds one row per patient, not per row).
SQLite: row triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0001"
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

# table -> (events, how to find the patient from a row alias)
WATCHED: dict[str, tuple[tuple[str, ...], str]] = {
    "patients": (("UPDATE",), "{row}.id"),
    "procedures": (("INSERT", "UPDATE", "DELETE"), "{row}.patient_id"),
    "follow_up_events": (("INSERT", "UPDATE", "DELETE"), "{row}.patient_id"),
    "levels_treated": (("INSERT", "UPDATE", "DELETE"), "levels"),
    "complications": (("INSERT", "UPDATE", "DELETE"), "levels"),
}


def _trigger_name(table: str, event: str) -> str:
    return f"outcome_dirty_{table}_{event.lower()}"


def _postgres_triggers() -> None:
    for table, (events, _) in WATCHED.items():
        for event in events:
            rows = "old_rows" if event == "DELETE" else "new_rows"
            if table in ("levels_treated", "complications"):
                select = (
                    f"SELECT DISTINCT p.patient_id FROM {rows} r "
                    "JOIN procedures p ON p.id = r.procedure_id"
                )
            else:
                column = "id" if table == "patients" else "patient_id"
                select = f"SELECT DISTINCT {column} FROM {rows}"
            name = _trigger_name(table, event)
            op.execute(
                f"""
                CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO outcome_dirty (patient_id) {select};
                    RETURN NULL;
                END $$
                """
            )
            transition = "OLD TABLE AS old_rows" if event == "DELETE" else "NEW TABLE AS new_rows"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transition} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )


def _sqlite_triggers() -> None:
    for table, (events, finder) in WATCHED.items():
        for event in events:
            row = "OLD" if event == "DELETE" else "NEW"
            if finder == "levels":
                insert = (
                    "INSERT INTO outcome_dirty (patient_id) "
                    f"SELECT patient_id FROM procedures WHERE id = {row}.procedure_id;"
                )
            else:
                insert = (
                    f"INSERT INTO outcome_dirty (patient_id) VALUES ({finder.format(row=row)});"
                )
            op.execute(
                f"CREATE TRIGGER {_trigger_name(table, event)} AFTER {event} ON {table} "
                f"BEGIN {insert} END"
            )


def _drop_triggers(postgres: bool) -> None:
    for table, (events, _) in WATCHED.items():
        for event in events:
            name = _trigger_name(table, event)
            if postgres:
                op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS {name}()")
            else:
                op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    utc = app.models.base.UTCDateTime(timezone=True)
    measures = [
        sa.Column(f"{m}_{p}", sa.Double(), nullable=True)
        for m in ("pain", "ps", "odi")
        for p in POINTS
    ]
    response = [
        sa.Column(f"{flag}_{d}", sa.Boolean(), nullable=True)
        for flag in ("improved", "band30", "band50")
        for d in DAYS
    ]
    analgesia = [
        *(sa.Column(f"med_{p}", sa.Boolean(), nullable=False) for p in POINTS),
        *(sa.Column(f"ome_{p}", sa.Double(), nullable=True) for p in POINTS),
        *(sa.Column(f"omekg_{p}", sa.Double(), nullable=True) for p in POINTS),
        *(sa.Column(f"opioid_free_{p}", sa.Boolean(), nullable=True) for p in POINTS),
    ]
    op.create_table(
        "outcome_episodes",
        sa.Column("episode_key", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("indication", sa.String(length=32), nullable=True),
        sa.Column("staged", sa.Boolean(), nullable=False),
        sa.Column("first_at", utc, nullable=False),
        sa.Column("t0", utc, nullable=False),
        sa.Column("ended_at", utc, nullable=True),
        sa.Column("first_us", sa.BigInteger(), nullable=False),
        sa.Column("t0_us", sa.BigInteger(), nullable=False),
        sa.Column("n_sessions", sa.Integer(), nullable=False),
        sa.Column("n_levels", sa.Integer(), nullable=False),
        sa.Column("max_levels", sa.Integer(), nullable=False),
        sa.Column("n_repeats", sa.Integer(), nullable=False),
        sa.Column("has_repeat", sa.Boolean(), nullable=False),
        sa.Column("level_mask", sa.BigInteger(), nullable=False),
        *(sa.Column(f"leakage_{site}", sa.Integer(), nullable=False) for site in LEAKAGE),
        sa.Column("cervical", sa.Boolean(), nullable=False),
        sa.Column("thoracic", sa.Boolean(), nullable=False),
        sa.Column("lumbar", sa.Boolean(), nullable=False),
        sa.Column("sacral", sa.Boolean(), nullable=False),
        sa.Column("sex", sa.String(length=16), nullable=False),
        sa.Column("histology", sa.String(length=120), nullable=True),
        sa.Column("histology_key", sa.String(length=120), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("patient_episodes", sa.Integer(), nullable=False),
        sa.Column("patient_levels", sa.Integer(), nullable=False),
        *measures,
        *response,
        *analgesia,
        *(sa.Column(f"window_{d}", sa.Boolean(), nullable=False) for d in DAYS),
        *(sa.Column(c, sa.Integer(), nullable=True) for c in COMPLICATIONS),
        sa.Column("patient_complications", sa.Integer(), nullable=False),
        sa.Column("recurrence_day", sa.Integer(), nullable=True),
        sa.Column("recurrence_event", sa.Boolean(), nullable=False),
        sa.Column("survival_day", sa.Integer(), nullable=False),
        sa.Column("survival_event", sa.Boolean(), nullable=False),
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

    op.create_table(
        "outcome_dirty",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("claimed", sa.Boolean(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_dirty")),
    )
    op.create_table(
        "outcome_meta",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_meta")),
    )

    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        _postgres_triggers()
    else:
        _sqlite_triggers()
    # whatever is already recorded is summarised at the first statistics read
    op.execute("INSERT INTO outcome_dirty (patient_id) SELECT id FROM patients")


def downgrade() -> None:
    _drop_triggers(op.get_bind().dialect.name == "postgresql")
    op.drop_table("outcome_meta")
    op.drop_table("outcome_dirty")
    with op.batch_alter_table("outcome_episodes", schema=None) as batch_op:
        batch_op.drop_index("ix_outcome_episodes_first_us")
        batch_op.drop_index("ix_outcome_episodes_histology_key_first_us")
        batch_op.drop_index(batch_op.f("ix_outcome_episodes_patient_id"))
    op.drop_table("outcome_episodes")
