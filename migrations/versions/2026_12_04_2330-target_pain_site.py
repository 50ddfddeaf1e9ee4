"""target pain site: the pain a procedure is done for (back by default, or leg)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 23:30:00+00:00

Issue 17, section 1 (clinical-rules.md section 3, revised): an episode's baseline, rule A, the
day-14 decision, the trajectory and its outcome figures use scores of the site its procedure
targets; rule B stays on back pain.

- procedures.target_pain_site: 'back' or 'leg', NOT NULL, default 'back', so every existing
  procedure (and so every existing episode, its decisions and triggers) stays as it was.
- outcome_episodes.target_pain_site: the episode's (its first session's), derived; the summary
  is recomputed anyway (app.outcomes.definitions.SUMMARY_VERSION changes).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain DDL, the same on both databases (as in 0012): SQLite adds the column and its CHECK
    # in place, where a batch operation would copy the table and drop its summary triggers
    op.execute(
        "ALTER TABLE procedures ADD COLUMN target_pain_site VARCHAR(8) DEFAULT 'back' NOT NULL "
        "CONSTRAINT ck_procedures_target_pain_site CHECK (target_pain_site IN ('back', 'leg'))"
    )
    op.execute(
        "ALTER TABLE outcome_episodes "
        "ADD COLUMN target_pain_site VARCHAR(8) DEFAULT 'back' NOT NULL"
    )
    op.execute("INSERT INTO outcome_dirty (patient_id) SELECT id FROM patients")


def downgrade() -> None:
    op.execute("ALTER TABLE outcome_episodes DROP COLUMN target_pain_site")
    op.execute("ALTER TABLE procedures DROP COLUMN target_pain_site")
    op.execute("INSERT INTO outcome_dirty (patient_id) SELECT id FROM patients")
