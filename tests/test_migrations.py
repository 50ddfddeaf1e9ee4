"""Migrations are the only way the schema changes: they round-trip and match the models."""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from app.cli import alembic_config
from app.db import build_engine
from app.models import Base
from tests.databases import create_database, drop_database, new_database_url


@pytest.fixture
def scratch_url() -> Iterator[str]:
    url = new_database_url("vertebro_migrations")
    asyncio.run(create_database(url))
    yield url
    asyncio.run(drop_database(url))


def _run(url: str, fn: Any) -> Any:
    async def go() -> Any:
        engine = build_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _drift(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "heads")
    assert _run(scratch_url, _tables) == set(Base.metadata.tables)
    command.downgrade(config, "base")
    assert _run(scratch_url, _tables) == set()
    command.upgrade(config, "heads")
    assert _run(scratch_url, _tables) == set(Base.metadata.tables)


def test_models_and_migrations_do_not_drift(scratch_url: str) -> None:
    command.upgrade(alembic_config(scratch_url), "heads")
    assert _run(scratch_url, _drift) == []
