"""Issue 15, item 7: the statistics group and filter by the coded histology group (ICCC-3),
never by the free-text histology, which can hold anything a clerk typed (here a name and an
MRN)."""

from typing import Any

import pytest
from httpx import AsyncClient

from tests.conftest import ScopedClient
from tests.factories import add_pain, make_patient, make_procedure

OUTCOMES = "/api/v1/stats/outcomes"
TRAJECTORY = "/api/v1/stats/pain-trajectory"
BREAKDOWN = "/api/v1/stats/breakdown"
FREE_TEXT = "LCH, Jane Roe (MRN 4471) relapsed after ICE"
TRACES = ("jane roe", "4471", "lch,", "relapsed after")
EVERY_ROUTE: list[tuple[str, dict[str, Any]]] = [
    (OUTCOMES, {}),
    (TRAJECTORY, {}),
    (TRAJECTORY, {"unit": "week"}),
    (BREAKDOWN, {"by": "histology"}),
    (BREAKDOWN, {"by": "region"}),
    (BREAKDOWN, {"by": "level_count"}),
]


async def _treated(client: AsyncClient, **patient: Any) -> dict[str, Any]:
    """A patient with one vertebroplasty, a baseline and a day-14 score."""
    created = await make_patient(client, **patient)
    procedure = await make_procedure(client, created["id"])
    await add_pain(client, created["id"], "2019-02-10T10:00:00Z", 7)
    await add_pain(client, created["id"], "2019-02-26T10:00:00Z", 3, procedure_id=procedure["id"])
    return created


async def _get(client: AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("scope", ["stats:read", "stats:research"])
async def test_free_text_histology_never_reaches_a_statistics_response(
    client: AsyncClient, scoped_client: ScopedClient, scope: str
) -> None:
    for _ in range(6):  # enough for stats:read to publish the group's figures
        await _treated(client, histology=FREE_TEXT)
    await _treated(client, histology="Wilms tumour")
    async with scoped_client(scope) as stats:
        for url, params in EVERY_ROUTE:
            response = await stats.get(url, params=params)
            assert response.status_code == 200, response.text
            published = response.text.lower()
            assert not [t for t in TRACES if t in published], (url, params, published[:400])
            assert "wilms" not in published


async def test_the_breakdown_groups_by_the_coded_group(client: AsyncClient) -> None:
    await _treated(client, histology="alveolar rhabdomyosarcoma", histology_group="IX")
    await _treated(client, histology="embryonal RMS, see note", histology_group="IX")
    await _treated(client, histology="Wilms tumour", histology_group="VI")
    await _treated(client, histology=FREE_TEXT)  # no group given: none is guessed
    await _treated(client, histology=None, histology_group="XII")
    body = await _get(client, BREAKDOWN, by="histology")
    groups = {row["group"]: row for row in body["groups"]}
    # vocabulary order, the patients without a group last
    assert list(groups) == ["VI", "IX", "XII", "not_recorded"]
    assert groups["IX"]["patients"]["value"] == groups["IX"]["episodes"]["value"] == 2
    assert groups["IX"]["clinical_success_2w"]["n"] == 2
    assert groups["VI"]["episodes"]["value"] == 1
    assert groups["XII"]["episodes"]["value"] == 1  # a group of its own, not "no group"
    assert groups["not_recorded"]["episodes"]["value"] == 1
    assert body["total"]["episodes"]["value"] == 5 and body["additive"] is True


async def test_the_histology_filter_takes_group_codes(client: AsyncClient) -> None:
    await _treated(client, histology="alveolar rhabdomyosarcoma", histology_group="IX")
    await _treated(client, histology="Wilms tumour", histology_group="VI")
    await _treated(client, histology="Wilms tumour")

    async def episodes(**params: Any) -> int:
        value: int = (await _get(client, OUTCOMES, **params))["counts"]["episodes"]["value"]
        return value

    assert await episodes() == 3
    assert await episodes(histology="IX") == 1
    assert await episodes(histology=["IX", "VI"]) == 2
    assert await episodes(histology="XII") == 0  # XII is a group: not "no group recorded"
    body = await _get(client, TRAJECTORY, histology=["VI", "IX"])
    assert body["cohort"]["histology"] == ["VI", "IX"]
    breakdown = await _get(client, BREAKDOWN, by="histology", histology="VI")
    assert [row["group"] for row in breakdown["groups"]] == ["VI"]


@pytest.mark.parametrize("url", [OUTCOMES, TRAJECTORY, BREAKDOWN])
@pytest.mark.parametrize("value", ["Wilms tumour", "wilms TUMOUR", "ix", "XIII", "unknown"])
async def test_a_histology_filter_outside_the_vocabulary_is_refused(
    client: AsyncClient, url: str, value: str
) -> None:
    """A free-text filter would answer "how many patients have this text?": refused."""
    await _treated(client, histology="Wilms tumour", histology_group="VI")
    response = await client.get(url, params={"histology": value, "by": "histology"})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["query.histology.0"]
