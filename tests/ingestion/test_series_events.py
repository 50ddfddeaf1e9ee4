"""A staged series through the event door (the paper's case 3: T1, T6, T7, T9, then T11, L2,
L3, L4 a week later): `procedure.performed` carries `series` (the sender's reference, stage k
of n), the two sessions are one episode counted from the last, in whichever order they come."""

from typing import Any

from httpx import AsyncClient

from app.models import ProcedureSeries
from tests.ingestion.helpers import count, post, procedure

FIRST = "2019-03-05T09:00:00Z"
SECOND = "2019-03-12T09:00:00Z"


def stage(event_id: str, ref: str, levels: list[str], at: str, k: int, **series: Any) -> Any:
    named = {"series_ref": "S-1", "stage": k, "planned_sessions": 2, **series}
    return procedure(event_id, ref, levels, at=at, data={"series": named})


async def _episodes(client: AsyncClient, patient_id: str) -> list[dict[str, Any]]:
    case = await client.get(f"/api/v1/cases/{patient_id}")
    assert case.status_code == 200, case.text
    episodes: list[dict[str, Any]] = case.json()["episodes"]
    return episodes


async def test_two_stages_are_one_episode_in_either_order(client: AsyncClient) -> None:
    second = await post(client, stage("p2", "OR-2", ["T11", "L2", "L3", "L4"], SECOND, 2))
    assert second.status_code == 201, second.text
    first = await post(client, stage("p1", "OR-1", ["T1", "T6", "T7", "T9"], FIRST, 1))
    assert first.status_code == 201, first.text
    patient = first.json()["ids"]["patient_id"]
    (episode,) = await _episodes(client, patient)
    assert len(episode["procedure_ids"]) == 2
    assert episode["t0"].startswith("2019-03-12")
    assert await count(ProcedureSeries) == 1
    procedure_id = first.json()["ids"]["procedure_id"]
    read = (await client.get(f"/api/v1/procedures/{procedure_id}")).json()
    assert read["stage_number"] == 1 and read["series_id"] is not None
    # a replay is a replay (the series is part of what was hashed)
    again = await post(client, stage("p1", "OR-1", ["T1", "T6", "T7", "T9"], FIRST, 1))
    assert again.status_code == 200 and again.json()["status"] == "replayed"


async def test_a_stage_beyond_the_plan_or_taken_twice_is_refused(client: AsyncClient) -> None:
    beyond = await post(client, stage("p3", "OR-3", ["L5"], SECOND, 3))
    assert beyond.status_code == 422
    assert beyond.json()["errors"][0]["field"].startswith("data.series")
    assert (await post(client, stage("p1", "OR-1", ["T1"], FIRST, 1))).status_code == 201
    taken = await post(client, stage("p9", "OR-9", ["T2"], SECOND, 1))
    assert taken.status_code == 409, taken.text
    replanned = await post(client, stage("p2", "OR-2", ["T11"], SECOND, 2, planned_sessions=3))
    assert replanned.status_code == 422
    assert replanned.json()["errors"][0]["field"] == "data.series.planned_sessions"
    assert await count(ProcedureSeries) == 1


async def test_a_series_reference_names_one_patients_series(client: AsyncClient) -> None:
    assert (await post(client, stage("p1", "OR-1", ["T1"], FIRST, 1))).status_code == 201
    other = await post(
        client,
        stage("x2", "OR-X", ["T11"], SECOND, 2, label=None)
        | {"patient": {"system": "urn:test:mrn", "value": "MRN-2"}},
    )
    assert other.status_code == 422, other.text
    assert other.json()["errors"][0]["field"] == "data.series.series_ref"
