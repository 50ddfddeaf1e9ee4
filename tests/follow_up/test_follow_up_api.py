from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import add_pain, make_patient, make_procedure

AT = "2019-02-19T10:00:00Z"


@pytest.fixture
async def patient(client: AsyncClient) -> dict[str, Any]:
    return await make_patient(client, birth_date="2004-02-20")


async def _post(client: AsyncClient, patient: dict[str, Any], **body: Any) -> Any:
    payload = {"patient_id": patient["id"], "occurred_at": AT, **body}
    return await client.post("/api/v1/follow-ups", json=payload)


@pytest.mark.parametrize(
    ("scale", "value", "score"),
    [("nrs11", 7, 7), ("vas", 75, 7.5), ("fps_r", 4, 4), ("flacc", 3, 3), ("wong_baker", 10, 10)],
)
async def test_pain_is_normalised(
    client: AsyncClient, patient: dict[str, Any], scale: str, value: float, score: float
) -> None:
    response = await _post(client, patient, kind="pain", scale=scale, value=value)
    assert response.status_code == 201, response.text
    assert response.json()["score"] == score
    assert response.json()["value"] == value


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"kind": "pain", "value": 11}, "value", 422),
        ({"kind": "pain", "value": 4.5}, "value", 422),
        ({"kind": "pain", "scale": "fps_r", "value": 3}, "value", 422),
        ({"kind": "pain", "scale": "vas", "value": 120}, "value", 422),
        ({"kind": "pain", "value": 5, "site": "elbow"}, "pain.site", 422),
        (
            {"kind": "pain", "value": 5, "occurred_at": "2019-02-19T10:00:00"},
            "pain.occurred_at",
            422,
        ),
        (
            {"kind": "pain", "value": 5, "occurred_at": "2999-02-19T10:00:00Z"},
            "pain.occurred_at",
            422,
        ),
        ({"kind": "pain", "value": 5, "occurred_at": "2000-01-01T10:00:00Z"}, "occurred_at", 422),
        ({"kind": "mood", "value": 5}, "body", 422),
        ({"kind": "performance", "scale": "lansky", "value": 75}, "value", 422),
        ({"kind": "performance", "scale": "karnofsky", "value": 70}, "scale", 422),
        ({"kind": "function", "value": 101}, "function.value", 422),
        ({"kind": "medication", "drug": "morphine", "dose": 10}, "medication", 422),
        (
            {
                "kind": "medication",
                "drug": "morphine",
                "dose": 1,
                "dose_unit": "mg/h",
                "doses_per_day": 2,
            },
            "medication",
            422,
        ),
        ({"kind": "medication", "drug": "gabapentin", "is_opioid": True}, "is_opioid", 422),
    ],
)
async def test_invalid_follow_ups_are_refused_and_not_stored(
    client: AsyncClient, patient: dict[str, Any], body: dict[str, Any], field: str, status: int
) -> None:
    response = await _post(client, patient, **body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert (await client.get("/api/v1/follow-ups")).json()["items"] == []


async def test_lansky_under_16_karnofsky_from_16(
    client: AsyncClient, patient: dict[str, Any]
) -> None:
    assert (
        await _post(client, patient, kind="performance", scale="lansky", value=70)
    ).status_code == 201
    adult = await _post(
        client,
        patient,
        kind="performance",
        scale="karnofsky",
        value=70,
        occurred_at="2020-03-01T00:00:00Z",
    )
    assert adult.status_code == 201, adult.text


async def test_medication_ome_and_per_kg(client: AsyncClient, patient: dict[str, Any]) -> None:
    response = await _post(
        client,
        patient,
        kind="medication",
        drug="Morphine",
        dose=10,
        dose_unit="mg",
        route="oral",
        doses_per_day=6,
        weight_kg=50,
    )
    body = response.json()
    assert (body["drug"], body["ome_mg_day"], body["ome_mg_kg_day"]) == ("morphine", 60, 1.2)
    assert body["is_opioid"] is True and body["ome_factors_version"]
    stopped = await _post(client, patient, kind="medication", drug="morphine", status="stopped")
    assert stopped.json()["ome_mg_day"] == 0
    unknown = await _post(client, patient, kind="medication", drug="fentanyl", route="iv")
    assert unknown.json()["ome_mg_day"] is None and unknown.json()["is_opioid"] is True


async def test_procedure_must_belong_to_the_patient(
    client: AsyncClient, patient: dict[str, Any]
) -> None:
    other = await make_patient(client)
    procedure = await make_procedure(client, other["id"])
    response = await _post(client, patient, kind="pain", value=3, procedure_id=procedure["id"])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "procedure_id"


async def test_death_records_the_date_and_closes_the_record(
    client: AsyncClient, patient: dict[str, Any]
) -> None:
    died = await _post(client, patient, kind="death", occurred_at="2019-09-12T04:00:00Z")
    assert died.status_code == 201
    assert (await client.get(f"/api/v1/patients/{patient['id']}")).json()[
        "death_date"
    ] == "2019-09-12"
    after = await _post(client, patient, kind="pain", value=3, occurred_at="2019-09-20T04:00:00Z")
    assert after.status_code == 422
    assert after.json()["type"] == "/problems/after-death"
    again = await _post(client, patient, kind="death", occurred_at="2019-09-14T04:00:00Z")
    assert again.status_code == 409


async def test_correct_an_event(client: AsyncClient, patient: dict[str, Any]) -> None:
    event = await add_pain(client, patient["id"], AT, 6)
    url = f"/api/v1/follow-ups/{event['id']}"
    etag = (await client.get(url)).headers["etag"]
    body = {"kind": "pain", "patient_id": patient["id"], "occurred_at": AT, "value": 4}
    fixed = await client.put(url, json=body, headers={"If-Match": etag})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["score"] == 4 and fixed.json()["version"] == 2
    other_kind = await client.put(
        url,
        json={**body, "kind": "function", "value": 20},
        headers={"If-Match": fixed.headers["etag"]},
    )
    assert other_kind.status_code == 422


async def test_list_by_kind_and_time(client: AsyncClient, patient: dict[str, Any]) -> None:
    await add_pain(client, patient["id"], "2019-02-01T10:00:00Z", 6)
    late = await add_pain(client, patient["id"], "2019-03-01T10:00:00Z", 2)
    await _post(client, patient, kind="imaging", modality="mri")
    listed = await client.get(
        "/api/v1/follow-ups",
        params={
            "kind": "pain",
            "occurred_from": "2019-02-15T00:00:00Z",
            "patient_id": patient["id"],
        },
    )
    assert [e["id"] for e in listed.json()["items"]] == [late["id"]]
