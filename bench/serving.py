"""Benchmark plumbing for real servers: a fresh PostgreSQL database and uvicorn on loopback."""

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.auth.service import create_key
from app.cli import alembic_config

SERVER = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
ROOT = Path(__file__).resolve().parent.parent
# how the benchmarks serve the registry: as deployed, minus the access log, the rate limits
# and the background tasks (which would compete for the CPU at random moments)
ENV = {
    "ENVIRONMENT": "test",
    "RATE_LIMIT_PER_MINUTE": "100000000",
    "RATE_LIMIT_BURST": "100000000",
    "TRIGGERS_SCHEDULER_ENABLED": "false",
    "NOTIFICATIONS_WORKER_ENABLED": "false",
}


async def _admin(sql: str) -> None:
    engine = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@asynccontextmanager
async def fresh_database(prefix: str) -> AsyncIterator[str]:
    """A new database on the benchmark server, migrated; dropped afterwards. Yields its URL."""
    name = f"vertebro_bench_{prefix}_{uuid.uuid4().hex[:8]}"
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "heads")
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def api_key(url: str, scopes: list[str]) -> str:
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as session:
            _row, key = await create_key(session, name="bench", scopes=scopes)
            await session.commit()
    finally:
        await engine.dispose()
    return key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def serve(
    app: str, database_url: str, workers: int = 1, *, factory: bool = False
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`uvicorn <app> --workers <workers>` on a free port of 127.0.0.1 (`factory`: `app` names
    a function that builds the application); yields its base URL and the (master) process;
    stopped with SIGTERM (killed after 30 s)."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", *(["--factory"] if factory else []), app,
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--no-access-log", "--log-level", "warning",
        cwd=ROOT, env={**os.environ, **ENV, "DATABASE_URL": database_url},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(300):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{app} did not start")
        yield base, process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()
