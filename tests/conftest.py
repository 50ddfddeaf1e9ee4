"""One database for the session, built by `alembic upgrade head`; emptied after every test."""

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from tests.databases import create_database, drop_database, new_database_url

DATABASE_URL = new_database_url()
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["ENVIRONMENT"] = "test"
# Rate limits out of the way of functional tests (tests/auth/test_hardening.py sets its own):
# the route-enumeration test fails authentication many times from one client address.
os.environ.setdefault("AUTH_FAILURES_BURST", "1000000")
os.environ.setdefault("RATE_LIMIT_BURST", "1000000")
# a test process starts many apps: freezing at each start would keep their garbage for good
os.environ.setdefault("GC_FREEZE", "false")
# webhook receivers in tests listen on 127.0.0.1; tests of the refusals turn this off
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")

from alembic import command  # noqa: E402

from app.auth import service as auth_service  # noqa: E402
from app.auth.scopes import ALL_SCOPES  # noqa: E402
from app.cli import alembic_config  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.db import get_engine, get_sessionmaker, is_sqlite  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import Base  # noqa: E402

# the migration tests' scratch database (`scratch_url`)
pytest_plugins = ("tests.migration_db",)


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
    auth_service.forget_authenticated()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with get_engine().begin() as conn:
        if is_sqlite(database):
            # the audit trail's append-only triggers refuse DELETE: lift them for the cleanup
            triggers = (
                await conn.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                )
            ).all()
            for name, _sql in triggers:
                await conn.execute(text(f'DROP TRIGGER "{name}"'))
            for name in tables:
                await conn.execute(text(f'DELETE FROM "{name}"'))
            for _name, sql in triggers:
                await conn.execute(text(sql))
        else:
            # replica mode skips ordinary triggers (the audit trail's); superuser only
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))


@pytest.fixture(scope="session")
async def app_client(database: str) -> AsyncIterator[AsyncClient]:
    app = create_app()
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        yield client
    await get_engine().dispose()


async def make_api_key(*scopes: str, name: str = "test") -> str:
    """A real key, created (hashed) through the auth service in the test database."""
    async with get_sessionmaker()() as session:
        _row, key = await auth_service.create_key(session, name=name, scopes=scopes)
        await session.commit()
    return key


@pytest.fixture
async def client(app_client: AsyncClient) -> AsyncIterator[AsyncClient]:
    """The shared client, authenticated for this test with a key holding every scope."""
    key = await make_api_key(*sorted(ALL_SCOPES), name="test: all scopes")
    app_client.headers["Authorization"] = f"Bearer {key}"
    yield app_client
    app_client.headers.pop("Authorization", None)


ScopedClient = Callable[..., AbstractAsyncContextManager[AsyncClient]]


@pytest.fixture
def scoped_client(app_client: AsyncClient) -> ScopedClient:
    """`async with scoped_client("stats:read") as c:` a client whose key has only those scopes."""

    @asynccontextmanager
    async def make(*scopes: str) -> AsyncIterator[AsyncClient]:
        key = await make_api_key(*scopes, name="test: " + " ".join(scopes))
        async with AsyncClient(
            transport=app_client._transport,
            base_url="http://test",
            headers={"Authorization": f"Bearer {key}"},
        ) as scoped:
            yield scoped

    return make


@pytest.fixture
async def anonymous_client(app_client: AsyncClient) -> AsyncIterator[AsyncClient]:
    """No credential at all."""
    async with AsyncClient(transport=app_client._transport, base_url="http://test") as anon:
        yield anon


@pytest.fixture
def sessionmaker():  # type: ignore[no-untyped-def]
    return get_sessionmaker()
