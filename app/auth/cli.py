"""`vertebro keys ...`: create, list and revoke API keys from the command line.

A key is printed once, alone on stdout (so `KEY=$(vertebro keys create ...)` works); everything
else goes to stderr.
"""

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import keys as key_format
from app.auth import service
from app.auth.scopes import SCOPES
from app.config import get_settings
from app.db import build_engine
from app.errors import DomainError
from app.models.base import utcnow

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
console = Console(stderr=True)
T = TypeVar("T")


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on an engine of its own."""

    async def go() -> T:
        engine = build_engine(get_settings().database_url)
        try:
            async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc


@keys_app.command("create")
def create(
    name: str = typer.Option(..., help="Who or what uses the key (a system, a team)."),
    scope: list[str] = typer.Option(..., help="A scope; repeat for several."),
    expires_in_days: int | None = typer.Option(None, min=1, help="Expire after this many days."),
) -> None:
    """Create a key and print it (once: only its hash is stored)."""
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None

    async def work(session: AsyncSession) -> tuple[str, str]:
        row, key = await service.create_key(
            session, name=name, scopes=scope, expires_at=expires_at, created_by="cli"
        )
        return str(row.id), key

    key_id, key = _in_transaction(work)
    console.print(f"created {key_format.display(key.split('_')[1])} (id {key_id}): {name}")
    console.print("[yellow]This is the only time the key is shown. Store it safely.[/yellow]")
    typer.echo(key)


@keys_app.command("list")
def list_(all_: bool = typer.Option(False, "--all", help="Include revoked keys.")) -> None:
    """List keys (never their secrets): id, prefix, status, expiry, scopes, name."""

    async def work(session: AsyncSession) -> list[str]:
        rows, _ = await service.list_keys(session, include_revoked=all_, cursor=None, limit=500)
        now = utcnow()
        return [
            f"{r.id}  {key_format.display(r.prefix)}  "
            f"{'active' if r.active_at(now) else 'revoked' if r.revoked_at else 'expired'}  "
            f"{_expiry(r.expires_at, now)}  {','.join(r.scopes)}  {r.name}"
            for r in rows
        ]

    for line in _in_transaction(work):
        typer.echo(line)


def _expiry(expires_at: datetime | None, now: datetime) -> str:
    if expires_at is None:
        return "never expires"
    return f"{'expired' if expires_at <= now else 'expires'} {expires_at:%Y-%m-%d %H:%M} UTC"


@keys_app.command("revoke")
def revoke(
    key: str = typer.Argument(..., help="The key's id or its prefix (vtb_xxxxxxxx)."),
) -> None:
    """Revoke a key at once and for good."""

    async def work(session: AsyncSession) -> str:
        row = await service.find_key(session, key)
        await service.revoke_key(session, row.id)
        return key_format.display(row.prefix)

    console.print(f"revoked {_in_transaction(work)}")


@keys_app.command("scopes")
def scopes() -> None:
    """The scopes a key can hold."""
    for name, meaning in SCOPES.items():
        typer.echo(f"{name:16} {meaning}")


@keys_app.command("dev-admin")
def dev_admin() -> None:
    """Development only: replace the local admin key (all scopes) and print it for /docs."""
    if get_settings().environment != "development":
        console.print("not in development (ENVIRONMENT): no local admin key created")
        return

    async def work(session: AsyncSession) -> str:
        _row, key = await service.rotate_dev_admin(session)
        return key

    key = _in_transaction(work)
    console.print(
        "\n[bold green]Local admin key[/bold green] (all scopes; replaced at every `make run`):"
    )
    typer.echo(key)
    port = os.environ.get("PORT", "8000")
    console.print(
        "Open /docs, press [bold]Authorize[/bold] and paste it as ApiKey or Bearer; or\n"
        f'  curl -H "Authorization: Bearer {key}" http://127.0.0.1:{port}/api/v1/cases\n',
        soft_wrap=True,
    )
