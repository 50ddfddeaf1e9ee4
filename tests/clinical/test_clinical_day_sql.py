"""The clinical day in SQL (app.clinical.dialect) is the pure one (app.clinical.days), on the
database under test, across Toronto's clock changes of 2024 (March 10 and November 3)."""

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Date, literal, select

from app.clinical.days import clinical_date, day_number, day_start
from app.clinical.dialect import Dialect
from app.db import get_engine
from app.models.base import UTCDateTime
from app.outcomes.cohort_sql import to_us

ZONES = ["UTC", "America/Toronto", "Australia/Lord_Howe"]
CHANGES = [datetime(2024, 3, 10, 7, tzinfo=UTC), datetime(2024, 11, 3, 6, tzinfo=UTC)]


def instants() -> list[datetime]:
    rnd = random.Random(20240310)
    found = [c + timedelta(minutes=30 * k) for c in CHANGES for k in range(-60, 61, 3)]
    # 21:00 and 23:59:59.999999 local on the days around each change (EST -5 h, EDT -4 h)
    for day in (date(2024, 3, 9), date(2024, 3, 10), date(2024, 11, 3), date(2024, 11, 4)):
        start = day_start(day, "America/Toronto")
        found += [start + timedelta(hours=21), start + timedelta(days=1, microseconds=-1)]
    found += [
        datetime(2019, 1, 1, tzinfo=UTC) + timedelta(seconds=rnd.randint(0, 10**9), microseconds=7)
        for _ in range(40)
    ]
    return found


async def _select(columns: list[Any]) -> list[Any]:
    async with get_engine().connect() as conn:
        return list((await conn.execute(select(*columns))).one())


async def _dialect(zone: str) -> Dialect:
    async with get_engine().connect() as conn:
        return Dialect(conn.dialect.name, zone)


@pytest.mark.parametrize("zone", ZONES)
async def test_an_instants_clinical_date_and_day_number(zone: str) -> None:
    d = await _dialect(zone)
    ats = instants()
    stamps = [literal(at, UTCDateTime()) for at in ats]
    got = await _select([d.local_date(ts) for ts in stamps] + [d.local_day(ts) for ts in stamps])
    dates = [v if isinstance(v, date) else date.fromisoformat(v) for v in got[: len(ats)]]
    assert dates == [clinical_date(at, zone) for at in ats]
    assert got[len(ats) :] == [day_number(at, zone) for at in ats]
    if zone != "UTC":  # the instants do straddle the local and UTC dates
        assert any(clinical_date(at, zone) != clinical_date(at, "UTC") for at in ats)


@pytest.mark.parametrize("zone", ZONES)
async def test_when_a_date_begins_and_its_day_number(zone: str) -> None:
    d = await _dialect(zone)
    days = [c.date() + timedelta(days=k) for c in CHANGES for k in range(-2, 3)]
    days += [date(1970, 1, 1), date(1999, 12, 31), date(2040, 6, 30)]
    got = await _select(
        [d.day_start_us(literal(day, Date)) for day in days]
        + [d.date_day(literal(day, Date)) for day in days]
    )
    assert got[: len(days)] == [to_us(day_start(day, zone)) for day in days]
    assert got[len(days) :] == [day_number(day, zone) for day in days]
