"""Shared builders for the trigger tests: dates relative to a procedure, the sweep, reads."""

from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient

from app.db import get_sessionmaker
from app.triggers.evaluation import trigger_rules
from app.triggers.sweep import SweepResult, run_sweep
from tests.factories import add_pain, make_patient, make_procedure

T0 = datetime(2019, 2, 12, 9, 30, tzinfo=UTC)


def day(n: float, t0: datetime = T0) -> datetime:
    return t0 + timedelta(days=n)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def sweep(now: datetime | None = None) -> SweepResult:
    return await run_sweep(get_sessionmaker(), trigger_rules(), now)


async def procedure_with_pain(
    client: AsyncClient, scores: list[tuple[float, float]], t0: datetime = T0, **procedure: Any
) -> tuple[str, str]:
    """A patient, a vertebroplasty at t0 and back-pain scores at (day, score); returns ids."""
    patient = await make_patient(client)
    created = await make_procedure(client, patient["id"], performed_at=iso(t0), **procedure)
    for n, score in scores:
        await add_pain(client, patient["id"], iso(day(n, t0)), score)
    return patient["id"], created["id"]


async def triggers(client: AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/imaging-triggers", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
