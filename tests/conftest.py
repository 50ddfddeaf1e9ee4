"""One database for the session, built by `alembic upgrade head`; emptied after every test."""

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from tests.databases import create_database, drop_database, new_database_url

DATABASE_URL = new_database_url()
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["ENVIRONMENT"] = "test"

from alembic import command  # noqa: E402

from app.cli import alembic_config  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.db import get_engine, get_sessionmaker, is_sqlite  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import Base  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def database() -> Iterator[str]:
    get_settings.cache_clear()
    asyncio.run(create_database(DATABASE_URL))
    command.upgrade(alembic_config(DATABASE_URL), "heads")
    yield DATABASE_URL
    asyncio.run(drop_database(DATABASE_URL))


@pytest.fixture(autouse=True)
async def _empty_tables(database: str) -> AsyncIterator[None]:
    yield
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with get_engine().begin() as conn:
        if is_sqlite(database):
            for name in tables:
                await conn.execute(text(f'DELETE FROM "{name}"'))
        else:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))


@pytest.fixture(scope="session")
async def app_client(database: str) -> AsyncIterator[AsyncClient]:
    app = create_app()
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        yield client
    await get_engine().dispose()


@pytest.fixture
async def client(app_client: AsyncClient) -> AsyncClient:
    return app_client


@pytest.fixture
def sessionmaker():  # type: ignore[no-untyped-def]
    return get_sessionmaker()
