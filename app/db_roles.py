"""`vertebro db grant-app-role ROLE`: what the service's own PostgreSQL role may do.

In production the schema's owner runs the migrations, and the service connects as another role
(docker/postgres-init/ makes both). Only a table's owner can disable its triggers and only a
superuser can skip them (`session_replication_role`), so the audit trail's append-only
triggers hold against the service whatever it runs; its grants add that it may not even try
(SELECT and INSERT on the trail, nothing else).

Run as the owner after every migration (docker/entrypoint.sh `setup`): it sets the grants of
every table anew. Tables a migration adds before it runs again get the default privileges.
"""

import asyncio

import typer
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import get_settings
from app.db import build_engine, is_sqlite

SCHEMA = "public"
TABLE_DEFAULT = "SELECT, INSERT, UPDATE, DELETE"
TABLE_EXCEPTIONS: dict[str, str] = {
    "audit_events": "SELECT, INSERT",  # append-only
    "alembic_version": "",  # the schema's version is the migrations' business
    # a full rebuild of the statistics' summary empties them (app/outcomes/summary.py)
    "outcome_episodes": f"{TABLE_DEFAULT}, TRUNCATE",
    "outcome_pain_scores": f"{TABLE_DEFAULT}, TRUNCATE",
}

db_app = typer.Typer(help="Database roles (PostgreSQL).", no_args_is_help=True)
console = Console(stderr=True)


class RoleRefused(Exception):
    """The role must not serve: it could lift the audit trail's protection."""


async def _refusal(conn: AsyncConnection, role: str) -> str | None:
    found = (
        await conn.execute(
            text(
                "SELECT rolsuper, rolbypassrls, pg_has_role(:role, current_user, 'MEMBER'),"
                " EXISTS (SELECT FROM pg_class WHERE relowner = r.oid), current_user"
                " FROM pg_roles r WHERE rolname = :role"
            ),
            {"role": role},
        )
    ).first()
    if found is None:
        return f"no role {role}: create it first (docker/postgres-init/)"
    superuser, bypass_rls, acts_as_owner, owns, owner = found
    if superuser or bypass_rls:
        return f"{role} is a superuser (or bypasses row security)"
    if acts_as_owner:
        return f"{role} is, or is a member of, {owner}, the owner running this"
    if owns:
        return f"{role} owns tables: it could disable their triggers"
    return None


async def grant_app_role(conn: AsyncConnection, role: str) -> list[str]:
    """Give `role` the service's grants on the current database, as its owner; returns the
    tables granted. Raises RoleRefused for a role that could disable triggers."""
    if why := await _refusal(conn, role):
        raise RoleRefused(why)
    quote = conn.dialect.identifier_preparer.quote
    app = quote(role)
    tables = list(
        await conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
            {"s": SCHEMA},
        )
    )
    statements = [f"GRANT USAGE ON SCHEMA {SCHEMA} TO {app}"]
    for table in tables:
        privileges = TABLE_EXCEPTIONS.get(table, TABLE_DEFAULT)
        statements.append(f"REVOKE ALL ON {SCHEMA}.{quote(table)} FROM {app}")
        if privileges:
            statements.append(f"GRANT {privileges} ON {SCHEMA}.{quote(table)} TO {app}")
    statements += [
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {SCHEMA} FROM {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {app}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT {TABLE_DEFAULT} ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT USAGE, SELECT ON SEQUENCES TO {app}",
    ]
    for statement in statements:
        await conn.exec_driver_sql(statement)
    return tables


@db_app.command("grant-app-role")
def grant_app_role_command(
    role: str = typer.Argument(..., help="The role the service connects as."),
) -> None:
    """Grant the service's role what it needs, and no more (run as the schema's owner, with
    DATABASE_URL naming it, after every migration). PostgreSQL only."""
    url = get_settings().database_url
    if is_sqlite(url):
        console.print("SQLite has no roles: nothing to grant (and no such protection)")
        raise typer.Exit(1)

    async def run() -> list[str]:
        engine = build_engine(url)
        try:
            async with engine.begin() as conn:
                return await grant_app_role(conn, role)
        finally:
            await engine.dispose()

    try:
        tables = asyncio.run(run())
    except RoleRefused as exc:
        console.print(f"[red]refused: {exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(f"granted {role} the service's privileges on {len(tables)} tables")
