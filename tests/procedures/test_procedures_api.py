from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import make_patient, make_procedure

AT = "2019-02-12T09:30:00Z"


@pytest.fixture
async def patient(client: AsyncClient) -> dict[str, Any]:
    return await make_patient(client, birth_date="2004-02-20", death_date="2019-09-12")


async def _post(client: AsyncClient, patient: dict[str, Any], **body: Any) -> Any:
    payload = {"patient_id": patient["id"], "kind": "vertebroplasty", "performed_at": AT, **body}
    payload.setdefault("levels", [{"level": "T7"}])
    return await client.post("/api/v1/procedures", json=payload)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"levels": [{"level": "T14"}]}, "levels.0.level", "unknown-level"),
        ({"levels": [{"level": "L6"}]}, "levels.0.level", "variant-not-flagged"),
        (
            {"levels": [{"level": "L3", "approach": "costotransverse"}]},
            "levels.0.approach",
            "approach-region-mismatch",
        ),
        ({"levels": [{"level": "T7"}, {"level": "t7"}]}, "levels.1.level", "level-twice"),
        ({"performed_at": "1999-01-01T00:00:00Z"}, "performed_at", "before-birth"),
        ({"performed_at": "2019-10-01T00:00:00Z"}, "performed_at", "after-death"),
    ],
)
async def test_rule_violations_name_the_field(
    client: AsyncClient, patient: dict[str, Any], body: dict[str, Any], field: str, code: str
) -> None:
    response = await _post(client, patient, **body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == f"/problems/{code}"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert (await client.get("/api/v1/procedures")).json()["items"] == []


async def test_every_bad_level_is_reported_not_the_first_only(
    client: AsyncClient, patient: dict[str, Any]
) -> None:
    levels = [{"level": "T12"}, {"level": "T13"}, {"level": "Q9"}]
    response = await _post(client, patient, levels=levels)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == ["levels.1.level", "levels.2.level"]
    assert problem["type"] == "/problems/validation-error"
    assert (await client.get("/api/v1/procedures")).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"levels": [{"level": "T7", "needle_gauge": 9}]}, "levels.0.needle_gauge"),
        ({"levels": [{"level": "T7", "needle_gauge": 19}]}, "levels.0.needle_gauge"),
        ({"levels": [{"level": "T7", "cement_volume_ml": -1}]}, "levels.0.cement_volume_ml"),
        ({"levels": [{"level": "T7", "leakage": "lungs"}]}, "levels.0.leakage"),
        ({"performed_at": "2019-02-12T09:30:00"}, "performed_at"),
        ({"performed_at": "2999-02-12T09:30:00Z"}, "performed_at"),
        ({"kind": "laminectomy"}, "kind"),
        ({"duration_min": 0}, "duration_min"),
        ({"work_up": {"inr": 0}}, "work_up.inr"),
        ({"work_up": {"platelet_count": -5}}, "work_up.platelet_count"),
        ({"levels": []}, "body"),
        ({"radiation_dose_cgy": 2000}, "body"),
        ({"tumour_board_date": "2019-03-01"}, "body"),
        ({"series_id": "01a219db-192f-79c5-9172-17e95ced7b54"}, "body"),
    ],
)
async def test_invalid_bodies_are_422_with_the_field(
    client: AsyncClient, patient: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = await _post(client, patient, **body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_unknown_patient_is_a_bad_reference(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/procedures",
        json={
            "patient_id": "01a219db-192f-79c5-9172-17e95ced7b54",
            "kind": "vertebroplasty",
            "performed_at": AT,
            "levels": [{"level": "T7"}],
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "patient_id"


async def test_variant_level_accepted_when_flagged(
    client: AsyncClient, patient: dict[str, Any]
) -> None:
    response = await _post(client, patient, levels=[{"level": "L6", "is_variant": True}])
    assert response.status_code == 201
    assert response.json()["levels"][0]["region"] == "lumbar"
    assert response.json()["levels"][0]["snomed_code"] is None


async def test_cement_is_for_augmentation_only(
    client: AsyncClient, patient: dict[str, Any]
) -> None:
    response = await _post(
        client, patient, kind="radiotherapy", levels=[{"level": "T7", "cement_volume_ml": 2}]
    )
    assert response.status_code == 422
    ok = await _post(
        client,
        patient,
        kind="radiotherapy",
        radiation_dose_cgy=2000,
        radiation_fractions=4,
        levels=[{"level": "T5"}, {"level": "T6"}],
    )
    assert ok.status_code == 201


async def test_levels_come_back_in_anatomical_order(
    client: AsyncClient, patient: dict[str, Any]
) -> None:
    response = await _post(
        client, patient, levels=[{"level": "L2"}, {"level": "T1"}, {"level": "T11"}]
    )
    assert [lv["level"] for lv in response.json()["levels"]] == ["T1", "T11", "L2"]


async def test_eligibility_is_derived_from_the_work_up(
    client: AsyncClient, patient: dict[str, Any]
) -> None:
    response = await _post(
        client,
        patient,
        work_up={
            "consent_obtained": True,
            "last_imaging_date": "2018-10-01",
            "platelet_count": 120,
            "inr": 1.2,
        },
    )
    eligibility = response.json()["eligibility"]
    assert eligibility["result"] == "not_eligible"
    assert {c["name"]: c["result"] for c in eligibility["criteria"]} == {
        "informed_consent": "met",
        "recent_imaging": "not_met",
        "platelets": "met",
        "inr": "met",
    }


async def test_staged_series_rules(client: AsyncClient, patient: dict[str, Any]) -> None:
    series = await client.post(
        "/api/v1/procedure-series", json={"patient_id": patient["id"], "planned_sessions": 2}
    )
    assert series.status_code == 201
    sid = series.json()["id"]
    first = await _post(client, patient, series_id=sid, stage_number=1, levels=[{"level": "T1"}])
    assert first.status_code == 201
    assert first.json()["planned_sessions"] == 2
    again = await _post(
        client, patient, series_id=sid, stage_number=1, performed_at="2019-02-19T09:30:00Z"
    )
    assert again.status_code == 409
    too_far = await _post(client, patient, series_id=sid, stage_number=3)
    assert too_far.json()["errors"][0]["field"] == "stage_number"
    before_first = await _post(
        client, patient, series_id=sid, stage_number=2, performed_at="2019-02-01T09:30:00Z"
    )
    assert before_first.status_code == 422
    assert before_first.json()["type"] == "/problems/stage-order"
    second = await _post(
        client,
        patient,
        series_id=sid,
        stage_number=2,
        performed_at="2019-02-19T09:30:00Z",
        levels=[{"level": "L2"}],
    )
    assert second.status_code == 201
    read = (await client.get(f"/api/v1/procedure-series/{sid}")).json()
    assert read["procedure_ids"] == [first.json()["id"], second.json()["id"]]


async def test_series_of_another_patient_is_refused(
    client: AsyncClient, patient: dict[str, Any]
) -> None:
    other = await make_patient(client)
    series = await client.post(
        "/api/v1/procedure-series", json={"patient_id": other["id"], "planned_sessions": 2}
    )
    response = await _post(client, patient, series_id=series.json()["id"], stage_number=1)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "series_id"


async def test_update_procedure_and_levels(client: AsyncClient, patient: dict[str, Any]) -> None:
    procedure = await make_procedure(client, patient["id"])
    url = f"/api/v1/procedures/{procedure['id']}"
    etag = (await client.get(url)).headers["etag"]
    updated = await client.patch(
        url, json={"duration_min": 40, "work_up": {"inr": 1.2}}, headers={"If-Match": etag}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["duration_min"] == 40
    assert updated.json()["work_up"]["inr"] == 1.2
    added = await client.post(f"{url}/levels", json={"level": "T12", "needle_gauge": 15})
    assert added.status_code == 201
    twice = await client.post(f"{url}/levels", json={"level": "T12"})
    assert twice.status_code == 409
    level_url = f"{url}/levels/{added.json()['id']}"
    leak = await client.patch(level_url, json={"leakage": "segmental_vein"})
    assert leak.json()["leakage"] == "segmental_vein"
    wrong = await client.patch(level_url, json={"approach": "anterolateral"})
    assert wrong.status_code == 422
    assert (await client.get(url)).json()["levels"][1]["approach"] is None


async def test_update_cannot_break_the_rules(client: AsyncClient, patient: dict[str, Any]) -> None:
    procedure = await make_procedure(client, patient["id"])
    url = f"/api/v1/procedures/{procedure['id']}"
    etag = (await client.get(url)).headers["etag"]
    response = await client.patch(
        url, json={"performed_at": "1990-01-01T00:00:00Z"}, headers={"If-Match": etag}
    )
    assert response.status_code == 422
    assert (await client.get(url)).json()["performed_at"] == "2019-02-12T09:30:00Z"


async def test_list_filters(client: AsyncClient, patient: dict[str, Any]) -> None:
    a = await make_procedure(client, patient["id"], levels=[{"level": "L3"}])
    await make_procedure(
        client, patient["id"], performed_at="2019-03-12T09:30:00Z", levels=[{"level": "T7"}]
    )
    by_level = await client.get("/api/v1/procedures", params={"level": "l3"})
    assert [p["id"] for p in by_level.json()["items"]] == [a["id"]]
    by_date = await client.get(
        "/api/v1/procedures", params={"performed_from": "2019-03-01T00:00:00Z"}
    )
    assert [p["levels"][0]["level"] for p in by_date.json()["items"]] == ["T7"]
