"""Backups of a SQLite registry through SQLite's online backup API.

The backup API copies a consistent snapshot page by page while the service keeps writing (WAL
mode), so a backup needs no downtime; a plain file copy of a live database (and its -wal file)
can be torn. Restore goes through the same API into the target database, so a stale -wal or
-shm file beside it cannot be replayed over the restored pages. PostgreSQL has its own tools
(pg_dump / pg_restore, docs/operations.md).
"""

import os
import sqlite3
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from app.common.resources import resource_path

MIGRATIONS = resource_path("migrations")


class BackupError(Exception):
    """A backup or restore refused, with the reason a person can act on."""


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL, or None for another database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def _revision(conn: sqlite3.Connection, what: str) -> str:
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a registry database: {exc}.") from exc
    if integrity is None or integrity[0] != "ok":
        raise BackupError(f"{what} fails SQLite's integrity check: {integrity}.")
    if row is None:
        raise BackupError(f"{what} has no schema revision: it is not a migrated registry.")
    return str(row[0])


def _open_read_only(path: Path, what: str) -> sqlite3.Connection:
    if not path.is_file():
        raise BackupError(f"{what} {path} does not exist.")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def backup(source: Path, target: Path) -> str:
    """Copy the live database `source` to `target` (written whole, then renamed into place);
    returns its schema revision."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = _open_read_only(source, "The database")
    try:
        _revision(src, f"The database {source}")
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            revision = _revision(dst, "The copy")
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, target)
    return revision


def restore(backup_file: Path, target: Path, *, force: bool = False) -> str:
    """Write `backup_file` over the database `target`; returns the restored schema revision.
    Refuses a file that is not a registry backup, a revision this code does not know, and, unless
    `force`, a target that already holds a registry."""
    src = _open_read_only(backup_file, "The backup")
    try:
        revision = _revision(src, f"The backup {backup_file}")
        if revision not in known_revisions():
            raise BackupError(
                f"The backup is at schema revision {revision!r}, which this version of the "
                "registry does not know: restore it with the version that made it."
            )
        if not force and _holds_a_registry(target):
            raise BackupError(
                f"{target} already holds a registry: stop the service and pass --force to "
                "replace it."
            )
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return revision


def _holds_a_registry(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    conn = _open_read_only(path, "The database")
    try:
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
    except sqlite3.DatabaseError:
        return True  # something unreadable is there: never overwrite it silently
    finally:
        conn.close()
    return bool(tables and tables[0])
