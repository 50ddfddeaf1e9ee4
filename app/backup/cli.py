"""`vertebro backup <file>` and `vertebro restore <file>` for a SQLite registry."""

from pathlib import Path

import typer
from rich.console import Console

from app.backup.service import BackupError, backup, restore, sqlite_file
from app.config import get_settings

console = Console(stderr=True)

POSTGRES = (
    "DATABASE_URL is not SQLite: back up PostgreSQL with its own tools, e.g.\n"
    "  pg_dump -Fc -f registry.dump <database>\n"
    "  createdb <new database> && pg_restore -d <new database> registry.dump\n"
    "(docs/operations.md, 'Backups and restore')."
)


def _database() -> Path:
    path = sqlite_file(get_settings().database_url)
    if path is None:
        console.print(POSTGRES)
        raise typer.Exit(2)
    return path


def backup_command(
    target: Path = typer.Argument(..., help="File to write the backup to."),
) -> None:
    """Copy the SQLite registry (DATABASE_URL) while it runs, with SQLite's online backup API."""
    try:
        revision = backup(_database(), target)
    except BackupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"backed up to {target} (schema revision {revision})")


def restore_command(
    source: Path = typer.Argument(..., help="A file written by `vertebro backup`."),
    force: bool = typer.Option(False, "--force", help="Replace a registry already there."),
) -> None:
    """Restore a backup into the SQLite registry (DATABASE_URL). Stop the service first."""
    try:
        revision = restore(source, _database(), force=force)
    except BackupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"restored {source} (schema revision {revision})")
