"""The query space of stats:read (issue 16; docs/disclosure-control-design.md 3.9): at most 2
single-valued filters (breakdown's `by` included), dates by year or quarter only, levels as a
band, the trajectory by week; refused with 422 `not-available-for-scope` naming the field.
stats:research keeps every filter. Also: the patients' disclosure keys (migration
0014_disclosure_keys) exist, are random and are never published."""

from datetime import date
from typing import Any

import pytest
from alembic import command
from httpx import AsyncClient
from sqlalchemy import Connection, select, text

from app.cli import alembic_config
from app.config import Settings
from app.db import get_engine
from app.errors import RuleViolation
from app.models import Patient
from app.outcomes.query_space import period_dates
from tests.conftest import ScopedClient
from tests.factories import make_patient
from tests.migration_db import run_sync

OUTCOMES = "/api/v1/stats/outcomes"
TRAJECTORY = "/api/v1/stats/pain-trajectory"
BREAKDOWN = "/api/v1/stats/breakdown"

REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (OUTCOMES, {"performed_from": "2020-06-10"}, "performed_from"),
    (OUTCOMES, {"performed_to": "2020-06-10"}, "performed_to"),
    (OUTCOMES, {"histology": ["VIII", "IX"]}, "histology"),
    (OUTCOMES, {"sex": ["male", "female"]}, "sex"),
    (OUTCOMES, {"sex": "female", "age_band": "5-9", "staged": "true"}, "filters"),
    (OUTCOMES, {"sex": "female", "period": "2020", "repeat": "false"}, "filters"),
    (OUTCOMES, {"levels_min": 2}, "levels_min"),
    (OUTCOMES, {"levels_min": 1, "levels_max": 3}, "levels_min"),
    (TRAJECTORY, {"unit": "day"}, "unit"),
    (TRAJECTORY, {"unit": "month"}, "unit"),
    (TRAJECTORY, {"performed_from": "2020-06-10", "performed_to": "2020-06-10"}, "performed_from"),
    (BREAKDOWN, {"by": "region", "histology": "VIII", "period": "2021-Q2"}, "filters"),
]


@pytest.mark.parametrize(("url", "params", "field"), REFUSED)
async def test_stats_read_is_refused_outside_its_query_space(
    scoped_client: ScopedClient, url: str, params: dict[str, Any], field: str
) -> None:
    async with scoped_client("stats:read") as dashboard:
        response = await dashboard.get(url, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("not-available-for-scope")
    assert [e["field"] for e in problem["errors"]] == [field]


@pytest.mark.parametrize(("url", "params", "_field"), REFUSED)
async def test_stats_research_keeps_every_filter(
    scoped_client: ScopedClient, url: str, params: dict[str, Any], _field: str
) -> None:
    async with scoped_client("stats:research") as research:
        response = await research.get(url, params=params)
    assert response.status_code == 200, response.text


ALLOWED: list[tuple[str, dict[str, Any]]] = [
    (OUTCOMES, {}),
    (OUTCOMES, {"histology": "VIII", "sex": "female"}),
    (OUTCOMES, {"period": "2020-Q2", "age_band": "paediatric"}),
    (OUTCOMES, {"levels_min": 5}),
    (OUTCOMES, {"levels_min": 2, "levels_max": 2, "kind": "vertebroplasty"}),
    (TRAJECTORY, {"unit": "week", "period": "2021"}),
    (TRAJECTORY, {}),
    (BREAKDOWN, {"by": "histology", "period": "2021-Q4"}),
]


@pytest.mark.parametrize(("url", "params"), ALLOWED)
async def test_stats_read_answers_inside_its_query_space(
    scoped_client: ScopedClient, url: str, params: dict[str, Any]
) -> None:
    async with scoped_client("stats:read") as dashboard:
        response = await dashboard.get(url, params=params)
    assert response.status_code == 200, response.text
    if url == TRAJECTORY:
        assert response.json()["unit"] == "week"  # the default for stats:read


async def test_a_period_filters_by_its_first_and_last_day(scoped_client: ScopedClient) -> None:
    async with scoped_client("stats:read") as dashboard:
        body = (await dashboard.get(OUTCOMES, params={"period": "2024-Q1"})).json()
    assert body["cohort"]["performed_from"] == "2024-01-01"
    assert body["cohort"]["performed_to"] == "2024-03-31"
    async with scoped_client("stats:research") as research:
        both = await research.get(OUTCOMES, params={"period": "2024", "performed_to": "2024-05-01"})
        bad = await research.get(OUTCOMES, params={"period": "2024-Q5"})
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "period"
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "period"


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        ("2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31)),
        ("2023-Q2", date(2023, 4, 1), date(2023, 6, 30)),
        ("2024-Q4", date(2024, 10, 1), date(2024, 12, 31)),
    ],
)
def test_period_dates(period: str, first: date, last: date) -> None:
    assert period_dates(period) == (first, last)


@pytest.mark.parametrize("period", ["24", "2024-06", "2024-Q0", "2024Q1", "2024-06-10", "0999"])
def test_a_period_is_a_year_or_a_quarter(period: str) -> None:
    with pytest.raises(RuleViolation):
        period_dates(period)


# --- the keys -----------------------------------------------------------------------------


async def test_every_patient_gets_a_random_key_that_no_response_shows(
    client: AsyncClient,
) -> None:
    made = [await make_patient(client) for _ in range(4)]
    async with get_engine().begin() as conn:
        keys = list((await conn.execute(select(Patient.disclosure_key))).scalars())
    assert len(keys) == 4 and len(set(keys)) == 4
    assert all(0 <= key < 2**63 for key in keys)
    for patient in made:
        shown = await client.get(f"/api/v1/patients/{patient['id']}")
        assert shown.status_code == 200
        assert "disclosure_key" not in shown.text
        assert all(str(key) not in shown.text for key in keys)


def _insert_patients(conn: Connection) -> None:
    for i in range(5):
        conn.execute(
            text(
                "INSERT INTO patients (id, sex, created_at, updated_at, version) "
                "VALUES (:id, 'female', '2024-01-01', '2024-01-01', 1)"
            ),
            {"id": f"{i:032x}"},
        )


def _keys(conn: Connection) -> list[int]:
    return list(conn.execute(text("SELECT disclosure_key FROM patients")).scalars())


def test_the_migration_gives_existing_patients_random_keys(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "0012")
    run_sync(scratch_url, _insert_patients)
    command.upgrade(config, "0014_disclosure_keys")
    keys = run_sync(scratch_url, _keys)
    assert len(keys) == 5 and len(set(keys)) == 5
    assert all(0 < key < 2**63 for key in keys)
    command.downgrade(config, "0012")
    command.upgrade(config, "0014_disclosure_keys")
    assert set(run_sync(scratch_url, _keys)).isdisjoint(keys)  # drawn anew


def test_production_refuses_a_weak_noise_secret() -> None:
    """Unset, the noise key derives from SECRET_KEY (whose default production refuses)."""
    strong = "Zq8-vLk3Pn0xWc7-Rt5yHs2uJe9bNa4m"
    derived = Settings(environment="production", secret_key=strong)
    assert derived.production_problems() == []
    assert derived.stats_noise_key() not in (strong.encode(), b"")
    other = Settings(environment="production", secret_key=strong[::-1])
    assert other.stats_noise_key() != derived.stats_noise_key()
    own = Settings(environment="production", secret_key=strong, stats_noise_secret=strong[::-1])
    assert own.production_problems() == [] and own.stats_noise_key() == strong[::-1].encode()
    for weak in ("short", "a" * 40, "change-me" * 5):
        bad = Settings(environment="production", secret_key=strong, stats_noise_secret=weak)
        assert any("STATS_NOISE_SECRET" in p for p in bad.production_problems()), weak
