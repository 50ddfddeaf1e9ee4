"""`vertebro events purge-rejections`: delete refused events past their retention."""

import asyncio

import typer
from rich.console import Console

events_app = typer.Typer(help="The event log.", no_args_is_help=True)
console = Console(stderr=True)


@events_app.command("purge-rejections")
def purge_rejections_command(
    days: int = typer.Option(
        0, "--days", min=0, help="Keep this many days (default EVENT_REJECTIONS_RETENTION_DAYS)."
    ),
) -> None:
    """Delete logged rejections older than the retention (run it daily, e.g. from cron)."""
    from app.config import get_settings
    from app.db import get_engine, get_sessionmaker
    from app.ingestion.rejections import purge_rejections

    keep = days or get_settings().event_rejections_retention_days

    async def run() -> int:
        try:
            async with get_sessionmaker()() as session:
                deleted = await purge_rejections(session, keep)
                await session.commit()
                return deleted
        finally:
            await get_engine().dispose()

    deleted = asyncio.run(run())
    console.print(f"deleted {deleted} rejected events older than {keep} days")
