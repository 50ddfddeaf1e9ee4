"""Real processes for fault tests: a throwaway PostgreSQL cluster, uvicorn and `vertebro`.

Everything listens on 127.0.0.1 only and is stopped (killed if need be) on exit.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from alembic import command
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.auth.scopes import ALL_SCOPES
from app.auth.service import create_key
from app.cli import alembic_config
from tests.databases import server_url

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
# The settings every server of these tests runs with: no background tasks (the tests start
# their own workers), no rate limits, quick database timeouts.
SERVER_ENV = {
    "ENVIRONMENT": "test",
    "TRIGGERS_SCHEDULER_ENABLED": "false",
    "NOTIFICATIONS_WORKER_ENABLED": "false",
    "RATE_LIMIT_PER_MINUTE": "100000000",
    "RATE_LIMIT_BURST": "100000000",
    "DB_CONNECT_TIMEOUT_S": "2",
    "DB_STATEMENT_TIMEOUT_MS": "5000",
    "PYTHONUNBUFFERED": "1",
}


def on_postgres() -> bool:
    return server_url() is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _as_postgres(*args: str) -> list[str]:
    """PostgreSQL refuses to run as root; the suite may run as root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


@dataclass
class Cluster:
    """A PostgreSQL cluster of its own (initdb in a temporary directory), to stop and start."""

    directory: Path
    port: int
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.directory / "server.log"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._pg_ctl("-o", options, "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"),
            capture_output=True,
            check=False,
        )
        return status.returncode == 0


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    directory = Path(tempfile.mkdtemp(prefix="vertebro-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "initdb"), "-D", str(directory / "data"), "-A", "trust",
                "-U", "postgres", "-E", "UTF8", "--no-sync",
            ),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        cluster = Cluster(directory, free_port())
        cluster.start()
        try:
            yield cluster
        finally:
            if cluster.running():
                cluster.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def prepare_database(server: str, name: str | None = None) -> tuple[str, str]:
    """A new database on `server` (a PostgreSQL URL), migrated, with an all-scopes key."""
    name = name or f"vertebro_rel_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    await admin.dispose()
    url = server.rsplit("/", 1)[0] + "/" + name
    await asyncio.to_thread(command.upgrade, alembic_config(url), "heads")
    engine = create_async_engine(url)
    async with async_sessionmaker(engine)() as session:
        _row, key = await create_key(session, name="reliability", scopes=sorted(ALL_SCOPES))
        await session.commit()
    await engine.dispose()
    return url, key


async def drop_database(server: str, url: str) -> None:
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        name = url.rsplit("/", 1)[1]
        await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.dispose()


@dataclass
class Server:
    base: str
    process: asyncio.subprocess.Process


async def wait_for_health(base: str, attempts: int = 300) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        for _ in range(attempts):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


@contextlib.asynccontextmanager
async def uvicorn_server(
    database_url: str, *, workers: int = 1, env: dict[str, str] | None = None
) -> AsyncIterator[Server]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--no-access-log",
        "--log-level", "warning", "--timeout-graceful-shutdown", "30",
        cwd=ROOT, env={**os.environ, **SERVER_ENV, "DATABASE_URL": database_url, **(env or {})},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_for_health(base)
        yield Server(base, process)
    finally:
        await stop_process(process)


async def stop_process(process: asyncio.subprocess.Process, grace_s: float = 30) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def vertebro(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """`vertebro <args>` as a subprocess against `database_url` (output discarded)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from app.cli import main; main()", *args,
        cwd=ROOT, env={**os.environ, **SERVER_ENV, "DATABASE_URL": database_url, **(env or {})},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


def pain_event(event_id: str, patient: str, day: int = 1, value: int = 5) -> dict[str, object]:
    return {
        "source": "urn:test:ehr",
        "event_id": event_id,
        "type": "pain.scored",
        "occurred_at": f"2020-01-{1 + day % 28:02d}T10:00:00Z",
        "patient": {"system": "urn:test:mrn", "value": patient},
        "data": {"scale": "nrs11", "value": value},
    }
