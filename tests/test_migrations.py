"""Migrations are the only way the schema changes: they round-trip and match the models."""

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from app.cli import alembic_config
from app.models import Base
from tests.migration_db import run_sync


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _drift(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "heads")
    assert run_sync(scratch_url, _tables) == set(Base.metadata.tables)
    command.downgrade(config, "base")
    assert run_sync(scratch_url, _tables) == set()
    command.upgrade(config, "heads")
    assert run_sync(scratch_url, _tables) == set(Base.metadata.tables)


def test_models_and_migrations_do_not_drift(scratch_url: str) -> None:
    command.upgrade(alembic_config(scratch_url), "heads")
    assert run_sync(scratch_url, _drift) == []
