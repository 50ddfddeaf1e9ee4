"""`vertebro triggers sweep` (for cron) and `vertebro worker` (webhook delivery)."""

import asyncio
import signal
from datetime import datetime

import typer
from rich.console import Console

triggers_app = typer.Typer(help="Imaging triggers.", no_args_is_help=True)
console = Console(stderr=True)


@triggers_app.command("sweep")
def sweep_command(
    now: datetime | None = typer.Option(
        None, help="Evaluate as of this time (ISO 8601, with a time zone); default: now."
    ),
) -> None:
    """Run the day-14 evaluation once, and the evaluations a crash left behind (idempotent;
    safe alongside the in-service scheduler)."""
    from app.db import get_engine, get_sessionmaker
    from app.triggers.evaluation import trigger_rules
    from app.triggers.marks import recover
    from app.triggers.sweep import SweepResult, run_sweep

    if now is not None and now.tzinfo is None:
        raise typer.BadParameter("--now needs a time zone, e.g. 2026-01-01T00:00:00Z")

    async def run() -> tuple[int, SweepResult]:
        try:
            settled = await recover(get_sessionmaker())
            return settled, await run_sweep(get_sessionmaker(), trigger_rules(), now)
        finally:
            await get_engine().dispose()

    settled, result = asyncio.run(run())
    if settled:
        console.print(f"evaluated {settled} imaging-trigger mark(s) left by a crash")
    console.print(
        f"decided {result.decided} episode(s), opened {result.fired} trigger(s), "
        f"queued {result.messages} message(s) in {result.seconds * 1000:.0f} ms"
    )


def worker_command(
    once: bool = typer.Option(False, "--once", help="Deliver what is due, then exit."),
    check: bool = typer.Option(
        False, "--check", help="Exit 0 if a worker's heartbeat (WORKER_HEARTBEAT_FILE) is fresh."
    ),
) -> None:
    """Deliver queued webhook messages until stopped (SIGINT / SIGTERM)."""
    if check:
        _check_heartbeat()
        return
    from app.db import get_engine, get_sessionmaker
    from app.notifications.worker import Worker
    from app.triggers import webhooks

    async def run() -> None:
        worker = Worker(get_sessionmaker(), payload=webhooks.payload)
        try:
            if once:
                while await worker.run_once():
                    pass
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            console.print(f"worker {worker.name} delivering; Ctrl-C to stop")
            await worker.run(stop)
        finally:
            await get_engine().dispose()

    asyncio.run(run())


def _check_heartbeat() -> None:
    from app.config import get_settings
    from app.notifications.heartbeat import stale_reason

    settings = get_settings()
    if settings.worker_heartbeat_file is None:
        console.print("WORKER_HEARTBEAT_FILE is not set: the worker writes no heartbeat")
        raise typer.Exit(2)
    reason = stale_reason(settings.worker_heartbeat_file, settings.notifications_poll_interval_s)
    if reason is not None:
        console.print(f"worker not alive: {reason}")
        raise typer.Exit(1)
    console.print("worker alive")
