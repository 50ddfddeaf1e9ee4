"""`vertebro demo`: a marked synthetic cohort that a stats:read dashboard can show."""

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from app.auth.scopes import STATS_READ
from app.clinical.enums import TriggerStatus
from app.config import get_settings
from app.db import get_engine, get_sessionmaker
from app.demo.load import DEMO_NOTE, DEMO_SYSTEM, DemoRefused, load_demo
from app.models import ImagingTrigger, Patient, PatientIdentifier
from tests.conftest import ScopedClient


async def test_the_demo_cohort_is_marked_loaded_once_and_shown_to_stats_read(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    settings = get_settings()
    first = await load_demo(get_engine(), settings, 120)
    assert first.loaded and first.patients == 120 and first.procedures >= 120
    again = await load_demo(get_engine(), settings, 120)
    assert not again.loaded
    async with get_sessionmaker()() as session:
        marked = await session.scalar(
            select(func.count())
            .select_from(PatientIdentifier)
            .where(PatientIdentifier.system == DEMO_SYSTEM)
        )
        noted = await session.scalar(
            select(func.count()).select_from(Patient).where(Patient.notes == DEMO_NOTE)
        )
        dead_open = await session.scalar(
            select(func.count())
            .select_from(ImagingTrigger)
            .join(Patient, Patient.id == ImagingTrigger.patient_id)
            .where(
                Patient.death_date.is_not(None),
                ImagingTrigger.status.in_([TriggerStatus.open, TriggerStatus.acknowledged]),
            )
        )
    assert (marked, noted, dead_open) == (120, 120, 0)
    async with scoped_client(STATS_READ) as dashboard:
        response = await dashboard.get("/api/v1/stats/outcomes")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["disclosure"]["exact"] is False
        patients = body["counts"]["patients"]
        assert patients["suppressed"] is None and patients["value"] >= 100  # real figures
        assert body["pain"]["clinical_success_2w"]["proportion"] is not None


async def test_the_demo_is_refused_in_production() -> None:
    production = get_settings().model_copy(update={"environment": "production"})
    with pytest.raises(DemoRefused, match="production"):
        await load_demo(get_engine(), production, 10)
    with pytest.raises(DemoRefused, match="patients"):
        await load_demo(get_engine(), get_settings(), 0)
