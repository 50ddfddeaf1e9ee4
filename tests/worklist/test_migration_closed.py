"""Revision 0016_worklist widens imaging_triggers.status to `closed`, and back: the CHECK is
edited in place on SQLite (a table rebuild would cascade to the evidence and history), so the
trigger's rows survive both ways."""

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from app.cli import alembic_config
from app.models import Base
from tests.migration_db import run_sync

PATIENT, PROCEDURE, TRIGGER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
AT = datetime(2019, 2, 12, 9, 30, tzinfo=UTC)


def _add_trigger(conn: sa.Connection) -> None:
    """A closed trigger with its history, through the models' tables (the head's schema)."""
    rows = {
        "patients": {"id": PATIENT, "sex": "female"},
        "procedures": {
            "id": PROCEDURE,
            "patient_id": PATIENT,
            "kind": "vertebroplasty",
            "performed_at": AT,
        },
        "imaging_triggers": {
            "id": TRIGGER,
            "patient_id": PATIENT,
            "episode_key": PROCEDURE,
            "procedure_id": PROCEDURE,
            "rule": "no_improvement",
            "occurrence": PROCEDURE,
            "status": "closed",
            "t0": AT,
            "due_at": AT,
        },
        "imaging_trigger_transitions": {
            "id": uuid.uuid4(),
            "trigger_id": TRIGGER,
            "from_status": "open",
            "to_status": "closed",
            "actor": "system",
            "reason": "patient_died",
            "at": AT,
        },
    }
    for name, row in rows.items():
        conn.execute(Base.metadata.tables[name].insert(), [row])


def _status(conn: sa.Connection) -> tuple[str, int]:
    status = conn.scalar(sa.text("SELECT status FROM imaging_triggers"))
    history = conn.scalar(sa.text("SELECT count(*) FROM imaging_trigger_transitions"))
    return str(status), int(history or 0)


def _close_again(conn: sa.Connection) -> None:
    conn.execute(sa.text("UPDATE imaging_triggers SET status = 'closed'"))


def test_closed_is_allowed_then_read_as_dismissed_after_a_downgrade(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "0016_worklist")
    run_sync(scratch_url, _add_trigger)
    assert run_sync(scratch_url, _status) == ("closed", 1)
    command.downgrade(config, "0013")
    assert run_sync(scratch_url, _status) == ("dismissed", 1)  # the history keeps why
    with pytest.raises(sa.exc.IntegrityError):
        run_sync(scratch_url, _close_again)  # the narrower CHECK is back
    command.upgrade(config, "0016_worklist")
    run_sync(scratch_url, _close_again)
    assert run_sync(scratch_url, _status) == ("closed", 1)
