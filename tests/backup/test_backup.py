"""Backups proven: a populated registry (the paper's cases, events, a trigger, the audit trail,
the statistics' summary) backed up and restored into a new database gives back every row of
every table. SQLite through `vertebro backup` / `restore` (the online backup API, also while a
writer writes); PostgreSQL through pg_dump -Fc / pg_restore, as docs/operations.md says."""

import asyncio
import json
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from app.backup.service import BackupError, backup, restore, sqlite_file
from app.cli import app as cli
from app.db import get_sessionmaker
from app.models import Base
from app.seeding import load_all
from tests.conftest import DATABASE_URL
from tests.databases import create_database, drop_database, new_database_url, server_url
from tests.ingestion.helpers import pain, post

on_sqlite = pytest.mark.skipif(server_url() is not None, reason="SQLite's backup API")
on_postgres = pytest.mark.skipif(server_url() is None, reason="pg_dump needs the server")
TABLES = [t.name for t in Base.metadata.sorted_tables] + ["alembic_version"]


async def _populate(client: AsyncClient) -> None:
    await load_all(get_sessionmaker())
    cases = (await client.get("/api/v1/cases")).json()["items"]
    for case in cases:  # audit rows
        assert (await client.get(f"/api/v1/cases/{case['patient_id']}")).status_code == 200
    answer = await post(client, pain("bk-1", 6, data={"site": "back"}))
    assert answer.status_code in (200, 201), answer.text
    assert (await client.get("/api/v1/stats/outcomes")).status_code == 200


async def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = {}
            for table in TABLES:
                width = len((await conn.execute(text(f'SELECT * FROM "{table}" LIMIT 0'))).keys())
                order = ", ".join(str(i) for i in range(1, width + 1))
                result = await conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))
                found[table] = [tuple(row) for row in result]
            return found
    finally:
        await engine.dispose()


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def populated_sqlite(client: AsyncClient) -> Path:
    """The test registry, populated; its SQLite file."""
    await _populate(client)
    source = sqlite_file(DATABASE_URL)
    assert source is not None
    return source


@on_sqlite
async def test_sqlite_backup_and_restore_give_back_every_row(
    populated_sqlite: Path, tmp_path: Path
) -> None:
    source = populated_sqlite
    before = await _rows(DATABASE_URL)
    assert before["event_log"] and before["audit_events"] and before["outcome_episodes"]
    copy = tmp_path / "registry.backup"
    revision = backup(source, copy)
    restored = tmp_path / "restored.db"
    assert restore(copy, restored) == revision
    assert await _rows(_sqlite_url(restored)) == before


@on_sqlite
async def test_a_backup_taken_while_events_arrive_is_consistent(
    client: AsyncClient, populated_sqlite: Path, tmp_path: Path
) -> None:
    source = populated_sqlite
    done = asyncio.Event()
    written = [0]

    def written_so_far() -> int:
        return written[0]

    async def write() -> int:
        n = 0
        while not done.is_set():
            n += 1
            written[0] = n
            answer = await post(client, pain(f"live-{n}", n % 10, at="2019-03-01T10:00:00Z"))
            assert answer.status_code in (200, 201), answer.text
        return n

    writer = asyncio.create_task(write())
    copies: list[Path] = []
    while len(copies) < 3 or (len(copies) < 50 and not writer.done() and written_so_far() < 20):
        copies.append(tmp_path / f"live-{len(copies)}.backup")
        await asyncio.to_thread(backup, source, copies[-1])
        await asyncio.sleep(0.01)
    done.set()
    assert await writer > 0
    counts = [_live_events_and_effects(copy) for copy in copies]
    for logged, effects in counts:
        assert logged == effects  # each accepted event with its effect, or neither
    assert len({logged for logged, _ in counts}) > 1  # the copies did see writes in flight


def _live_events_and_effects(copy: Path) -> tuple[int, int]:
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        results = conn.execute(
            "SELECT result FROM event_log WHERE event_id LIKE 'live-%'"
        ).fetchall()
        follow_ups = {
            uuid.UUID(str(row[0])) for row in conn.execute("SELECT id FROM follow_up_events")
        }
    finally:
        conn.close()
    effects = [uuid.UUID(json.loads(r[0])["follow_up_id"]) for r in results]
    return len(results), sum(1 for e in effects if e in follow_ups)


@on_sqlite
def test_restore_refuses_what_it_should(tmp_path: Path) -> None:
    source = sqlite_file(DATABASE_URL)
    assert source is not None
    copy = tmp_path / "registry.backup"
    backup(source, copy)
    with pytest.raises(BackupError, match="already holds a registry"):
        restore(copy, source)
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a database, just some words that are long enough " * 20)
    with pytest.raises(BackupError, match="not a registry database"):
        restore(garbage, tmp_path / "new.db")
    future = tmp_path / "future.backup"
    backup(source, future)
    conn = sqlite3.connect(future)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.close()
    with pytest.raises(BackupError, match="does not know"):
        restore(future, tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists() or (tmp_path / "new.db").stat().st_size == 0


@on_sqlite
def test_the_commands_report_refusals_without_a_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["restore", str(tmp_path / "nothing.backup")])
    assert missing.exit_code == 1 and "does not exist" in " ".join(missing.output.split())
    assert missing.exception is None or isinstance(missing.exception, SystemExit)
    made = runner.invoke(cli, ["backup", str(tmp_path / "ok.backup")])
    assert made.exit_code == 0, made.output
    assert (tmp_path / "ok.backup").is_file()


@on_postgres
async def test_postgres_dump_and_restore_give_back_every_row(
    client: AsyncClient, tmp_path: Path
) -> None:
    await _populate(client)
    before = await _rows(DATABASE_URL)
    assert before["event_log"] and before["audit_events"] and before["outcome_episodes"]
    dump = tmp_path / "registry.dump"
    server = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
    source = make_url(DATABASE_URL).database
    assert source is not None
    await asyncio.to_thread(
        subprocess.run, ["pg_dump", *server, "-Fc", "-f", str(dump), source], check=True
    )
    target = new_database_url("vertebro_restore")
    await create_database(target)
    try:
        target_name = make_url(target).database
        assert target_name is not None
        await asyncio.to_thread(
            subprocess.run,
            ["pg_restore", *server, "--exit-on-error", "-d", target_name, str(dump)],
            check=True,
        )
        assert await _rows(target) == before
    finally:
        await drop_database(target)


@on_postgres
def test_the_backup_command_points_postgres_to_its_own_tools() -> None:
    answer = CliRunner().invoke(cli, ["backup", "/tmp/never-written.backup"])
    assert answer.exit_code == 2
    assert "pg_dump" in answer.output
    assert not Path("/tmp/never-written.backup").exists()
