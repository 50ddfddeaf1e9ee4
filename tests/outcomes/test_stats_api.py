"""The /stats routes: access, suppression for stats:read, freshness after every write path,
validation."""

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text

from app.config import get_settings
from app.db import get_engine
from app.outcomes.service import CACHE
from tests.conftest import ScopedClient
from tests.factories import add_pain, make_patient, make_procedure
from tests.factories.synthetic import generate, insert_registry

OUTCOMES = "/api/v1/stats/outcomes"


async def _get(client: AsyncClient, url: str = OUTCOMES, **params: Any) -> dict[str, Any]:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _correct_pain(
    client: AsyncClient,
    event: dict[str, Any],
    patient: dict[str, Any],
    procedure: dict[str, Any],
    at: str,
    value: float,
) -> None:
    """PUT a corrected version 1 of a pain score."""
    body = {
        "kind": "pain",
        "patient_id": patient["id"],
        "procedure_id": procedure["id"],
        "occurred_at": at,
        "value": value,
    }
    corrected = await client.put(
        f"/api/v1/follow-ups/{event['id']}", json=body, headers={"If-Match": '"1"'}
    )
    assert corrected.status_code == 200, corrected.text


async def _counts(client: AsyncClient, **params: Any) -> dict[str, Any]:
    counts: dict[str, Any] = (await _get(client, **params))["counts"]
    return counts


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [OUTCOMES, "/api/v1/stats/pain-trajectory"])
async def test_a_credential_with_a_stats_scope_is_required(
    anonymous_client: AsyncClient, scoped_client: ScopedClient, url: str
) -> None:
    assert (await anonymous_client.get(url)).status_code == 401
    async with scoped_client("cases:read") as other:
        response = await other.get(url)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_research_is_exact_and_read_is_suppressed(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    patient = await make_patient(client)
    procedure = await make_procedure(client, patient["id"])
    await add_pain(client, patient["id"], "2019-02-01T10:00:00Z", 7)
    await add_pain(client, patient["id"], "2019-02-26T10:00:00Z", 3, procedure_id=procedure["id"])
    async with scoped_client("stats:research") as research:
        exact = await _get(research)
    assert exact["disclosure"] == {"exact": True, "k": None, "suppressed": []}
    assert exact["counts"]["patients"]["value"] == 1
    assert exact["pain"]["time_points"][1]["score"]["mean"] == 3.0
    async with scoped_client("stats:read") as dashboard:
        hidden = await _get(dashboard)
        trajectory = await _get(dashboard, "/api/v1/stats/pain-trajectory", max_day=21)
    # issue 16: a cohort under STATS_MIN_PATIENTS (10, after noise) is withheld whole, zeros
    # included (a true 0 reads as any small count)
    assert hidden["disclosure"]["exact"] is False
    assert hidden["counts"]["patients"] == {"value": None, "suppressed": "cohort-below-minimum"}
    day14 = hidden["pain"]["time_points"][1]["score"]
    assert day14["mean"] is None and day14["n"] is None
    assert day14["suppressed"] == "cohort-below-minimum"
    cells = {c["cell"]: c for c in hidden["disclosure"]["suppressed"]}
    assert cells["counts.patients"]["reason"] == "cohort-below-minimum"
    assert cells["pain.d14"]["explanation"]
    assert hidden["complications"]["total"] == {"value": None, "suppressed": "cohort-below-minimum"}
    assert [p["n"] for p in trajectory["points"]] == [None, None, None, None]
    assert {p["suppressed"] for p in trajectory["points"]} == {"cohort-below-minimum"}
    assert not list(_published_counts(hidden)), "a withheld cohort publishes no count"


async def test_suppressed_figures_cannot_be_worked_out_from_a_large_registry(
    scoped_client: ScopedClient,
) -> None:
    """On a realistic registry, a stats:read body publishes no count in 1..k-1 anywhere, and
    every published group of parts adds up to nothing that reveals a suppressed one."""
    async with get_engine().begin() as conn:
        await insert_registry(conn, generate(150, seed=3))
    async with scoped_client("stats:read") as dashboard:
        body = await _get(dashboard, age_band="paediatric")
    k = body["disclosure"]["k"]
    published = list(_published_counts(body))
    assert published, "nothing checked"
    for path, value in published:
        assert not 1 <= value < k, path
    suppressed = {c["cell"] for c in body["disclosure"]["suppressed"]}
    assert suppressed
    grades = body["complications"]["by_sir_classic"]
    hidden = [g for g, figure in grades.items() if figure["value"] is None]
    assert len(hidden) != 1  # one alone could be recomputed from the total


def _published_counts(body: Any, path: str = "") -> Any:
    """Every published count: `value` of a figure, `n` / `denominator` of a rate or
    distribution, `at_risk` of a survival point."""
    if isinstance(body, dict):
        for key, value in body.items():
            here = f"{path}.{key}"
            if key in ("value", "n", "denominator", "at_risk") and isinstance(value, int):
                if not isinstance(value, bool):
                    yield here, value
            else:
                yield from _published_counts(value, here)
    elif isinstance(body, list):
        for i, item in enumerate(body):
            yield from _published_counts(item, f"{path}[{i}]")


# --- freshness: never stale after a write -------------------------------------------------


async def test_every_write_path_shows_at_once(client: AsyncClient) -> None:
    assert get_settings().stats_cache_ttl_s > 0  # the cache is on, and must not get in the way
    patient = await make_patient(client, birth_date="2008-05-01")
    assert (await _counts(client))["episodes"]["value"] == 0
    procedure = await make_procedure(client, patient["id"], performed_at="2019-02-12T09:30:00Z")
    assert (await _counts(client))["episodes"]["value"] == 1
    # a follow-up
    await add_pain(client, patient["id"], "2019-02-01T10:00:00Z", 8)
    event = await add_pain(
        client, patient["id"], "2019-02-26T09:30:00Z", 5, procedure_id=procedure["id"]
    )
    body = await _get(client)
    assert body["pain"]["baseline"]["mean"] == 8.0
    assert body["pain"]["time_points"][1]["score"]["mean"] == 5.0
    # a corrected follow-up (PUT)
    await _correct_pain(client, event, patient, procedure, "2019-02-26T09:30:00Z", 2)
    assert (await _get(client))["pain"]["time_points"][1]["score"]["mean"] == 2.0
    # a level added, then its leakage recorded
    added = await client.post(
        f"/api/v1/procedures/{procedure['id']}/levels",
        json={"level": "T8", "approach": "costotransverse"},
    )
    assert added.status_code == 201, added.text
    counts = await _counts(client)
    assert counts["level_treatments"]["value"] == 2
    assert counts["distinct_vertebrae"]["value"] == 2
    patched = await client.patch(
        f"/api/v1/procedures/{procedure['id']}/levels/{added.json()['id']}",
        json={"leakage": "intradiscal"},
    )
    assert patched.status_code == 200, patched.text
    leakage = (await _get(client))["complications"]["cement_leakage"]
    assert leakage["intradiscal"]["n"] == 1
    # a complication
    complication = await client.post(
        "/api/v1/complications",
        json={
            "procedure_id": procedure["id"],
            "kind": "cement_leakage",
            "symptomatic": False,
            "sir_classic": "A",
            "cirse_grade": 1,
        },
    )
    assert complication.status_code == 201, complication.text
    complications = (await _get(client))["complications"]
    assert complications["total"]["value"] == 1
    assert complications["by_sir_classic"]["A"]["value"] == 1
    # a second procedure on the same level: a repeat, which ends the first episode
    await make_procedure(
        client,
        patient["id"],
        performed_at="2019-06-12T09:30:00Z",
        levels=[{"level": "T7", "approach": "costotransverse"}],
    )
    counts = await _counts(client)
    assert counts["episodes"]["value"] == 2
    assert counts["repeat_level_treatments"]["n"] == 1
    assert (await _counts(client, repeat="true"))["episodes"]["value"] == 1
    # the patient (the histology group is a cohort filter)
    assert (await _counts(client, histology="VIII"))["episodes"]["value"] == 0
    read = await client.get(f"/api/v1/patients/{patient['id']}")
    updated = await client.patch(
        f"/api/v1/patients/{patient['id']}",
        json={"histology": "Ewing sarcoma", "histology_group": "VIII"},
        headers={"If-Match": read.headers["etag"]},
    )
    assert updated.status_code == 200, updated.text
    assert (await _counts(client, histology="VIII"))["episodes"]["value"] == 2
    # a death
    died = await client.post(
        "/api/v1/follow-ups",
        json={"kind": "death", "patient_id": patient["id"], "occurred_at": "2019-09-01T04:00:00Z"},
    )
    assert died.status_code == 201, died.text
    assert (await _get(client))["survival"]["events"]["value"] == 1


async def test_the_pain_trajectory_follows_every_write(client: AsyncClient) -> None:
    """The trajectory reads the back-pain scores the summary keeps per episode: a new score,
    a correction and a later procedure that ends the episode all show on the next read."""
    trajectory = "/api/v1/stats/pain-trajectory"

    async def points() -> list[tuple[int, int, float]]:
        body = await _get(client, trajectory)
        # a regular grid, days 0 to 365: the buckets with scores
        assert [p["start_day"] for p in body["points"]] == list(range(366))
        return [(p["start_day"], p["n"], p["mean"]) for p in body["points"] if p["n"]]

    patient = await make_patient(client)
    procedure = await make_procedure(client, patient["id"], performed_at="2019-02-12T09:30:00Z")
    assert await points() == []
    event = await add_pain(
        client, patient["id"], "2019-02-14T10:00:00Z", 6, procedure_id=procedure["id"]
    )
    await add_pain(client, patient["id"], "2019-02-14T11:00:00Z", 9, site="leg")  # not back
    assert await points() == [(2, 1, 6.0)]
    await _correct_pain(client, event, patient, procedure, "2019-02-14T10:00:00Z", 2)
    await add_pain(client, patient["id"], "2019-02-14T20:00:00Z", 4)
    assert await points() == [(2, 1, 3.0)]  # the episode's mean that day, counted once
    await add_pain(client, patient["id"], "2019-03-05T10:00:00Z", 7)
    assert await points() == [(2, 1, 3.0), (21, 1, 7.0)]
    # a later procedure on the same level ends the episode: the last score is the new one's
    await make_procedure(client, patient["id"], performed_at="2019-03-01T09:30:00Z")
    assert await points() == [(2, 1, 3.0), (4, 1, 7.0)]


async def test_writes_outside_the_api_are_seen_too(client: AsyncClient) -> None:
    """A row written by any path (here: plain SQL) marks its patient through the database
    triggers, so the next read recomputes it."""
    patient = await make_patient(client)
    procedure = await make_procedure(client, patient["id"])
    before = (await _counts(client))["level_treatments"]["value"]
    async with get_engine().begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO levels_treated (id, procedure_id, level, position, is_variant, "
                "created_at, updated_at) VALUES (:id, :procedure, 'T9', 17, false, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {
                "id": "0195f3a46a8e7c1e9d7b2f4f5b6c7d8f",
                "procedure": procedure["id"].replace("-", ""),
            }
            if get_engine().dialect.name == "sqlite"
            else {"id": "0195f3a4-6a8e-7c1e-9d7b-2f4f5b6c7d8f", "procedure": procedure["id"]},
        )
    assert (await _counts(client))["level_treatments"]["value"] == before + 1


async def test_repeated_reads_are_served_from_the_cache(client: AsyncClient) -> None:
    patient = await make_patient(client)
    await make_procedure(client, patient["id"])
    first = await _get(client)
    hits = CACHE.hits
    second = await _get(client)
    assert CACHE.hits == hits + 1
    assert second == first
    await make_procedure(client, patient["id"], performed_at="2020-01-10T09:00:00Z")
    third = await _get(client)
    assert third["counts"]["episodes"]["value"] == 2
    assert third["generated_at"] != first["generated_at"]


async def test_the_summary_triggers_are_installed(client: AsyncClient) -> None:
    """Another migration that rebuilt a table (SQLite batch mode) would drop them silently."""
    async with get_engine().connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = await conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        names = {row[0] for row in rows if row[0].startswith("outcome_dirty_")}
    tables = ("procedures", "levels_treated", "complications", "follow_up_events")
    expected = {f"outcome_dirty_{t}_{e}" for t in tables for e in ("insert", "update", "delete")}
    assert names == expected | {"outcome_dirty_patients_update"}


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"age_band": "teenager"}, "query.age_band.0"),
        ({"histology": "Ewing sarcoma"}, "query.histology.0"),
        ({"kind": "laminectomy"}, "query.kind.0"),
        ({"region": "coccygeal"}, "query.region.0"),
        ({"levels_min": -1}, "query.levels_min"),
        ({"performed_from": "yesterday"}, "query.performed_from"),
        ({"performed_from": "2020-01-02", "performed_to": "2020-01-01"}, "performed_to"),
        ({"levels_min": 3, "levels_max": 2}, "levels_max"),
    ],
)
async def test_bad_filters_are_refused(
    client: AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get(OUTCOMES, params=params)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_the_default_cohort_is_vertebroplasty_and_kyphoplasty(client: AsyncClient) -> None:
    patient = await make_patient(client)
    await make_procedure(client, patient["id"])
    await make_procedure(
        client,
        patient["id"],
        kind="radiotherapy",
        performed_at="2019-05-01T09:00:00Z",
        levels=[{"level": "L2"}],
    )
    body = await _get(client)
    assert body["cohort"]["kinds"] == ["kyphoplasty", "vertebroplasty"]
    assert body["counts"]["episodes"]["value"] == 1
    everything = await _get(client, kind=["vertebroplasty", "radiotherapy"])
    assert everything["counts"]["episodes"]["value"] == 2
