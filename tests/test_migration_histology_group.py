"""Revision 0012 adds the coded histology group (patients.histology_group, the only values
the statistics publish) and takes the free text out of the outcome summary, both ways, keeping
the patients and the triggers that keep the summary current."""

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from app.cli import alembic_config
from tests.migration_db import run_sync

PATIENT = uuid.uuid4()
FREE_TEXT = "LCH, Jane Roe (MRN 4471)"


def _add_patient(conn: sa.Connection) -> None:
    patients = sa.table(
        "patients",
        sa.column("id", sa.Uuid()),
        sa.column("sex", sa.String()),
        sa.column("histology", sa.String()),
    )
    conn.execute(patients.insert(), [{"id": PATIENT, "sex": "female", "histology": FREE_TEXT}])


def _scalar(url: str, sql: str) -> Any:
    return run_sync(url, lambda c: c.scalar(sa.text(sql)))


def _columns(conn: sa.Connection, table: str) -> list[str]:
    return [c["name"] for c in sa.inspect(conn).get_columns(table)]


def _indexes(conn: sa.Connection) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(conn).get_indexes("outcome_episodes")}


def _marks_after_an_update(conn: sa.Connection) -> tuple[int, Any]:
    """How many dirty marks an update of the patient adds (the summary's trigger), and the
    patient's free text, which no revision touches."""
    before = conn.scalar(sa.text("SELECT count(*) FROM outcome_dirty"))
    conn.execute(sa.text("UPDATE patients SET sex = 'male'"))
    after = conn.scalar(sa.text("SELECT count(*) FROM outcome_dirty"))
    histology = conn.scalar(sa.text("SELECT histology FROM patients"))
    return int(after or 0) - int(before or 0), histology


def _set_group(value: str) -> Any:
    def go(conn: sa.Connection) -> Any:
        conn.execute(sa.text("UPDATE patients SET histology_group = :g"), {"g": value})
        return conn.scalar(sa.text("SELECT histology_group FROM patients"))

    return go


def test_upgrade_and_downgrade_keep_patients_and_triggers(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "0011")
    run_sync(scratch_url, _add_patient)
    command.upgrade(config, "0012")

    assert "histology_group" in run_sync(scratch_url, lambda c: _columns(c, "patients"))
    assert _scalar(scratch_url, "SELECT histology_group FROM patients") is None
    summary = run_sync(scratch_url, lambda c: _columns(c, "outcome_episodes"))
    assert "histology_group" in summary
    assert "histology" not in summary and "histology_key" not in summary
    assert summary.index("histology_group") < summary.index("pain_base")  # read early
    assert "ix_outcome_episodes_histology_group_first_us" in run_sync(scratch_url, _indexes)
    assert _scalar(scratch_url, "SELECT count(*) FROM outcome_dirty") == 1  # recomputed
    assert run_sync(scratch_url, _marks_after_an_update) == (1, FREE_TEXT)
    assert run_sync(scratch_url, _set_group("IX")) == "IX"
    for outside in ("LCH", "ix", ""):  # short enough for the column: the CHECK refuses
        with pytest.raises(sa.exc.IntegrityError):
            run_sync(scratch_url, _set_group(outside))

    command.downgrade(config, "0011")
    assert "histology_group" not in run_sync(scratch_url, lambda c: _columns(c, "patients"))
    summary = run_sync(scratch_url, lambda c: _columns(c, "outcome_episodes"))
    assert "histology_key" in summary and "histology" in summary
    assert "ix_outcome_episodes_histology_key_first_us" in run_sync(scratch_url, _indexes)
    assert run_sync(scratch_url, _marks_after_an_update) == (1, FREE_TEXT)
    command.upgrade(config, "heads")
