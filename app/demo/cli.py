"""`vertebro demo --patients N`: load the synthetic demo cohort (app/demo/load.py)."""

import asyncio

import typer
from rich.console import Console

console = Console(stderr=True)


def demo_command(
    patients: int = typer.Option(200, "--patients", "-n", help="How many synthetic patients."),
    seed: int = typer.Option(6, "--seed", help="The generator's seed (same seed, same rows)."),
) -> None:
    """Load a clearly marked synthetic cohort (identifier system urn:vertebro:demo) into the
    current database (DATABASE_URL) and refresh the outcome summary; refused in production."""
    from app.config import get_settings
    from app.db import build_engine
    from app.demo.load import DemoRefused, load_demo
    from app.outcomes.service import ensure_current

    settings = get_settings()

    async def run() -> tuple[bool, str]:
        engine = build_engine(
            settings.database_url, statement_timeout_ms=settings.stats_refresh_timeout_ms
        )
        try:
            result = await load_demo(engine, settings, patients, seed)
            await ensure_current(engine, settings)
        finally:
            await engine.dispose()
        if not result.loaded:
            return False, f"the demo cohort of seed {seed} is already there: nothing loaded"
        return True, (
            f"loaded {result.patients} synthetic patients ({result.procedures} procedures, "
            f"{result.follow_ups} follow-up events; {result.triggers_closed} trigger(s) of "
            "dead patients closed), marked with identifier system urn:vertebro:demo"
        )

    try:
        _loaded, message = asyncio.run(run())
    except DemoRefused as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(message)
