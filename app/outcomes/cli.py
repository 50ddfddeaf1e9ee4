"""`vertebro stats refresh`: bring the outcome summary up to date outside any request."""

import asyncio
import time

import typer
from rich.console import Console

stats_app = typer.Typer(help="Outcome statistics.", no_args_is_help=True)
console = Console(stderr=True)


@stats_app.command("refresh")
def refresh_command(
    full: bool = typer.Option(False, "--full", help="Recompute every patient's episodes."),
) -> None:
    """Recompute the summary the statistics read (the patients written since the last one, or
    all after a migration or a change of definitions). Run it after `vertebro migrate` and after
    bulk imports, so that no request pays for a large rebuild; safe at any time."""
    from app.config import get_settings
    from app.db import build_engine
    from app.outcomes.service import ensure_current

    settings = get_settings()

    async def run() -> int:
        # the request timeouts do not bound a rebuild; the statistics' own setting does
        engine = build_engine(
            settings.database_url, statement_timeout_ms=settings.stats_refresh_timeout_ms
        )
        try:
            return await ensure_current(engine, settings, full=full)
        finally:
            await engine.dispose()

    started = time.perf_counter()
    generation = asyncio.run(run())
    console.print(
        f"outcome summary current (generation {generation}) in "
        f"{time.perf_counter() - started:.1f} s"
    )
