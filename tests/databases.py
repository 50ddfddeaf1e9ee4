"""Throwaway databases for the suite: a SQLite file, or a fresh PostgreSQL database."""

import os
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

DEFAULT_SQLITE_DIR = Path(tempfile.gettempdir())


def server_url() -> str | None:
    """The PostgreSQL server to test against (TEST_DATABASE_URL), or None for SQLite."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


def new_database_url(prefix: str = "vertebro_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    server = server_url()
    if server is None:
        return f"sqlite+aiosqlite:///{DEFAULT_SQLITE_DIR / (name + '.db')}"
    return make_url(server).set(database=name).render_as_string(hide_password=False)


async def create_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    admin = create_async_engine(
        make_url(server_url() or url).render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    await admin.dispose()


async def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _remove_sqlite_files(str(parsed.database))
        return
    admin = create_async_engine(
        make_url(server_url() or url).render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    await admin.dispose()


def _remove_sqlite_files(database: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
