"""`vertebro demo`: a clearly marked synthetic cohort in the current database, so that a
dashboard built on `stats:read` shows real-looking figures (issue 18, section 3).

The cohort is the benchmarks' seeded generator (`app.demo.synthetic`): the same seed gives
the same rows. Each patient is marked twice: an identifier in the system `urn:vertebro:demo`
(`DEMO-<seed>-<n>`) and a note saying it is synthetic, so a demo patient is never taken for a
real one and can be found (and removed) by that system. Refused in production. Loading the
same seed twice loads nothing the second time. A dead patient's open triggers are closed as
any death closes them (`app.triggers.lifecycle.close_for_death`); the outcome summary is then
brought up to date (`app.outcomes.service.ensure_current`).
"""

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.config import Settings
from app.demo.synthetic import generate, insert_registry
from app.models import PatientIdentifier
from app.models.base import new_id, utcnow
from app.triggers.lifecycle import close_for_death

DEMO_SYSTEM = "urn:vertebro:demo"
DEMO_NOTE = "SYNTHETIC DEMO PATIENT (vertebro demo): generated data, not a real person."
MAX_PATIENTS = 100_000


class DemoRefused(Exception):
    """The demo cohort may not be loaded here (production, or a bad size)."""


@dataclass(frozen=True)
class DemoResult:
    loaded: bool  # False: this seed's cohort was already there
    patients: int
    procedures: int
    follow_ups: int
    triggers_closed: int


def demo_value(seed: int, n: int) -> str:
    return f"DEMO-{seed}-{n:06d}"


async def load_demo(
    engine: AsyncEngine, settings: Settings, patients: int, seed: int = 6
) -> DemoResult:
    if settings.environment == "production":
        raise DemoRefused("refusing to load synthetic demo data into a production registry")
    if not 1 <= patients <= MAX_PATIENTS:
        raise DemoRefused(f"--patients must be between 1 and {MAX_PATIENTS}")
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    async with sessionmaker() as session:
        there = await session.scalar(
            select(PatientIdentifier.id).where(
                PatientIdentifier.system == DEMO_SYSTEM,
                PatientIdentifier.value == demo_value(seed, 1),
            )
        )
    registry = generate(patients, seed)
    if there is not None:
        return DemoResult(False, len(registry.patients), 0, 0, 0)
    identifiers: list[dict[str, Any]] = []
    for n, patient in enumerate(registry.patients, start=1):
        patient["notes"] = DEMO_NOTE
        identifiers.append(
            {
                "id": new_id(),
                "patient_id": patient["id"],
                "system": DEMO_SYSTEM,
                "value": demo_value(seed, n),
            }
        )
    async with engine.begin() as conn:
        await insert_registry(conn, registry)
        await conn.execute(insert(cast(Table, PatientIdentifier.__table__)), identifiers)
    dead = [p["id"] for p in registry.patients if p["death_date"] is not None]
    async with sessionmaker() as session:
        closed = 0
        for start in range(0, len(dead), 1000):
            closed += len(await close_for_death(session, dead[start : start + 1000], utcnow()))
        await session.commit()
    return DemoResult(
        True, len(registry.patients), len(registry.procedures), len(registry.events), closed
    )
