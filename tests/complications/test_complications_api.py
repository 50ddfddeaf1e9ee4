from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import make_patient, make_procedure


@pytest.fixture
async def procedure(client: AsyncClient) -> dict[str, Any]:
    patient = await make_patient(client)
    return await make_procedure(client, patient["id"], levels=[{"level": "T7"}, {"level": "T12"}])


async def test_complication_on_a_level_of_its_procedure(
    client: AsyncClient, procedure: dict[str, Any]
) -> None:
    level_id = procedure["levels"][1]["id"]
    response = await client.post(
        "/api/v1/complications",
        json={
            "procedure_id": procedure["id"],
            "level_id": level_id,
            "kind": "cement_leakage",
            "onset_at": "2019-02-12T10:00:00Z",
            "symptomatic": False,
            "sir_classic": "A",
            "cirse_grade": 1,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["cirse_version"] == "2017" and body["major"] is False
    listed = await client.get("/api/v1/complications", params={"procedure_id": procedure["id"]})
    assert [c["id"] for c in listed.json()["items"]] == [body["id"]]


async def test_level_of_another_procedure_is_refused(
    client: AsyncClient, procedure: dict[str, Any]
) -> None:
    patient = await make_patient(client)
    other = await make_procedure(client, patient["id"])
    response = await client.post(
        "/api/v1/complications",
        json={
            "procedure_id": procedure["id"],
            "level_id": other["levels"][0]["id"],
            "kind": "hematoma",
            "symptomatic": True,
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "level_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cirse_grade": 7}, "cirse_grade"),
        ({"sir_classic": "G"}, "sir_classic"),
        ({"kind": "sneezing"}, "kind"),
        ({"sir_classic": "F", "cirse_grade": 3}, "body"),
        ({"onset_at": "2019-02-01T00:00:00Z"}, "onset_at"),
    ],
)
async def test_invalid_complications(
    client: AsyncClient, procedure: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    payload = {"procedure_id": procedure["id"], "kind": "hematoma", "symptomatic": True, **body}
    response = await client.post("/api/v1/complications", json=payload)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_update_regrades(client: AsyncClient, procedure: dict[str, Any]) -> None:
    created = await client.post(
        "/api/v1/complications",
        json={"procedure_id": procedure["id"], "kind": "hematoma", "symptomatic": True},
    )
    url = f"/api/v1/complications/{created.json()['id']}"
    etag = (await client.get(url)).headers["etag"]
    updated = await client.patch(url, json={"sir_classic": "C"}, headers={"If-Match": etag})
    assert updated.status_code == 200
    assert updated.json()["major"] is True
