"""Command line: `vertebro serve | migrate | seed | demo | keys | triggers | worker | stats | db
| events | mllp | backup | restore` (see each command's --help)."""

import asyncio
import os

import typer
from alembic import command
from alembic.config import Config
from rich.console import Console

from app.auth.cli import keys_app
from app.backup.cli import backup_command, restore_command
from app.common.resources import resource_path
from app.db_roles import db_app
from app.demo.cli import demo_command
from app.hl7.cli import mllp_command
from app.ingestion.cli import events_app
from app.outcomes.cli import stats_app
from app.triggers.cli import triggers_app, worker_command

app = typer.Typer(help="Vertebroplasty outcomes registry.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(triggers_app, name="triggers")
app.add_typer(stats_app, name="stats")
app.add_typer(db_app, name="db")
app.add_typer(events_app, name="events")
app.command("worker")(worker_command)
app.command("demo")(demo_command)
app.command("mllp")(mllp_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
console = Console(stderr=True)


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(resource_path("alembic.ini")))
    config.set_main_option("script_location", str(resource_path("migrations")))
    if url:
        config.attributes["url"] = url
    return config


@app.command()
def migrate(revision: str = typer.Argument("heads", help="Target revision.")) -> None:
    """Upgrade the database schema (DATABASE_URL) to a revision."""
    command.upgrade(alembic_config(), revision)
    console.print(f"[green]database at {revision}[/green]")


@app.command()
def seed() -> None:
    """Load the paper's three cases (idempotent)."""
    from app.db import get_engine, get_sessionmaker
    from app.seeding import load_all

    async def run() -> dict[str, bool]:
        try:
            return await load_all(get_sessionmaker())
        finally:
            await get_engine().dispose()

    for key, created in asyncio.run(run()).items():
        console.print(f"{key}: {'loaded' if created else 'already there'}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", envvar="HOST"),
    port: int = typer.Option(8000, envvar="PORT"),
    workers: int = typer.Option(1, envvar="WEB_CONCURRENCY"),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1,::1",
        envvar="FORWARDED_ALLOW_IPS",
        help="The reverse proxies (addresses or networks, comma-separated) whose "
        "X-Forwarded-For is believed; never *.",
    ),
) -> None:
    """Serve the API with uvicorn (limits: app/serving.py)."""
    import uvicorn

    from app.serving import uvicorn_options

    try:
        options = uvicorn_options(forwarded_allow_ips)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="FORWARDED_ALLOW_IPS") from exc
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers, **options
    )


def main() -> None:
    app()
