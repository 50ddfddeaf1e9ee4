"""What the migration tests share: a scratch database per test (SQLite file or PostgreSQL
database, as tests.databases makes them; tests/conftest.py registers the fixture) and a way to
run a synchronous function on it."""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from app.db import build_engine
from tests.databases import create_database, drop_database, new_database_url


@pytest.fixture
def scratch_url() -> Iterator[str]:
    """An empty database of its own, dropped after the test."""
    url = new_database_url("vertebro_migrations")
    asyncio.run(create_database(url))
    yield url
    asyncio.run(drop_database(url))


def run_sync(url: str, fn: Any) -> Any:
    """fn(connection) on the database at `url`, in a transaction that commits."""

    async def go() -> Any:
        engine = build_engine(url)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(go())
