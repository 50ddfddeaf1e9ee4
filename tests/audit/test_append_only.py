"""The audit table refuses UPDATE and DELETE from the application's database connection, with
real SQL (triggers installed by the migration), on SQLite and on PostgreSQL."""

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.db import get_engine, is_sqlite
from app.models import AuditEvent


async def _count() -> int:
    async with get_engine().connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(AuditEvent)) or 0)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET outcome = 'success', patient_id = NULL",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE outcome = 'unauthenticated'",
    ],
)
async def test_audit_rows_cannot_be_changed_or_removed(
    anonymous_client: AsyncClient, statement: str
) -> None:
    assert (await anonymous_client.get("/api/v1/cases")).status_code == 401  # one audit row
    before = await _count()
    assert before >= 1
    with pytest.raises(DBAPIError, match="append-only"):
        async with get_engine().begin() as conn:
            await conn.execute(text(statement))
    assert await _count() == before
    async with get_engine().connect() as conn:
        outcomes = set((await conn.scalars(select(AuditEvent.outcome))).all())
    assert outcomes == {"unauthenticated"}


async def test_the_audit_table_cannot_be_truncated_on_postgresql(
    anonymous_client: AsyncClient, database: str
) -> None:
    if is_sqlite(database):
        pytest.skip("SQLite has no TRUNCATE (its DELETE trigger is tested above)")
    await anonymous_client.get("/api/v1/cases")
    before = await _count()
    with pytest.raises(DBAPIError, match="append-only"):
        async with get_engine().begin() as conn:
            await conn.execute(text("TRUNCATE audit_events"))
    assert await _count() == before


async def test_new_audit_rows_can_still_be_added(anonymous_client: AsyncClient) -> None:
    before = await _count()
    await anonymous_client.get("/api/v1/cases")
    await anonymous_client.get("/api/v1/patients")
    assert await _count() == before + 2
