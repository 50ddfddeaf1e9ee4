"""Accepted but incomplete events say so in `warnings`, on the result, its replay and the log."""

from typing import Any

from httpx import AsyncClient

from tests.ingestion.helpers import EVENTS, event, pain, post, procedure


def _codes(result: dict[str, Any]) -> dict[str, str | None]:
    return {w["code"]: w["field"] for w in result["warnings"]}


def medication(event_id: str, drug: str, **data: Any) -> dict[str, Any]:
    values = {"drug": drug, "dose": 5, "dose_unit": "mg", "route": "oral", "doses_per_day": 4}
    return event("medication.recorded", event_id, {**values, **data})


async def test_pain_before_its_procedure_warns_awaiting(client: AsyncClient) -> None:
    early = pain("p1", 6, data={"procedure_ref": "OR-9"})
    response = await post(client, early)
    assert response.status_code == 201, response.text
    assert response.json()["event_status"] == "applied"
    assert _codes(response.json()) == {"awaiting-procedure": "data.procedure_ref"}
    replay = await post(client, early)
    assert replay.status_code == 200 and _codes(replay.json()) == {
        "awaiting-procedure": "data.procedure_ref"
    }
    assert (await post(client, procedure("r1", "OR-9", ["T12"]))).status_code == 201
    logged = await client.get(EVENTS, params={"event_id": "p1"})
    [row] = logged.json()["items"]
    assert row["awaiting_procedure"] is False and row["warnings"] == []


async def test_complete_events_have_no_warnings(client: AsyncClient) -> None:
    assert (await post(client, pain("b1", 7, at="2019-02-10T10:00:00Z"))).json()["warnings"] == []
    assert (await post(client, procedure("r1", "OR-9", ["T12"]))).json()["warnings"] == []
    linked = await post(client, pain("p1", 6, data={"procedure_ref": "OR-9"}))
    assert linked.json()["warnings"] == []
    known = await post(client, medication("m1", "Morphine"))
    assert known.json()["warnings"] == []


async def test_misspelt_drug_is_kept_with_a_hint(client: AsyncClient) -> None:
    response = await post(client, medication("m1", "oxycodon"))
    assert response.status_code == 201, response.text
    [warning] = response.json()["warnings"]
    assert warning["code"] == "unknown-drug" and warning["field"] == "data.drug"
    assert "'oxycodon'" in warning["message"] and "Did you mean 'oxycodone'" in warning["message"]


async def test_opioid_without_computable_ome_warns(client: AsyncClient) -> None:
    response = await post(client, medication("m1", "oxycodone", route="subcutaneous"))
    assert response.status_code == 201, response.text
    assert _codes(response.json()) == {"no-ome": "data.route"}
    no_dose = event("medication.recorded", "m2", {"drug": "morphine"})
    assert _codes((await post(client, no_dose)).json()) == {"no-ome": "data.dose"}


async def test_non_opioid_is_known(client: AsyncClient) -> None:
    """Known as non-opioids through the event door: is_opioid false and OME 0, never null."""
    for event_id, drug in (("m1", "gabapentin"), ("m2", "Paracetamol")):
        response = await post(client, medication(event_id, drug))
        assert response.status_code == 201, response.text
        assert response.json()["warnings"] == []
    items = (await client.get("/api/v1/follow-ups", params={"kind": "medication"})).json()
    recorded = {i["drug"]: (i["is_opioid"], i["ome_mg_day"]) for i in items["items"]}
    assert recorded == {"gabapentin": (False, 0.0), "paracetamol": (False, 0.0)}


async def test_pain_site_other_warns_leg_does_not(client: AsyncClient) -> None:
    other = await post(client, pain("p1", 4, data={"site": "other"}))
    assert _codes(other.json()) == {"site-not-driving-triggers": "data.site"}
    leg = await post(client, pain("p2", 4, data={"site": "leg"}))
    assert leg.json()["warnings"] == []


async def test_batch_results_carry_warnings(client: AsyncClient) -> None:
    batch = {"events": [medication("m1", "oxycodon"), pain("p1", 3)]}
    first, second = (await post(client, batch)).json()["results"]
    assert list(_codes(first)) == ["unknown-drug"] and second["warnings"] == []


async def test_a_procedure_without_a_baseline_says_so_until_one_arrives(
    client: AsyncClient,
) -> None:
    """No target-site score in the 30 days before the episode's first session: the day-14
    check cannot judge improvement, so the sender is told, on the result, its replay and the
    log; a late baseline makes the warning go."""
    first = procedure("r1", "OR-9", ["T12"])
    created = await post(client, first)
    assert created.status_code == 201, created.text
    assert _codes(created.json()) == {"no-baseline": "occurred_at"}
    assert _codes((await post(client, first)).json()) == {"no-baseline": "occurred_at"}
    [row] = (await client.get(EVENTS, params={"event_id": "r1"})).json()["items"]
    assert _codes(row) == {"no-baseline": "occurred_at"}
    # a leg score does not count for a back-pain procedure, a score 31 days before neither
    await post(client, pain("leg", 7, at="2019-02-10T10:00:00Z", data={"site": "leg"}))
    await post(client, pain("old", 7, at="2019-01-11T09:00:00Z"))
    [row] = (await client.get(EVENTS, params={"event_id": "r1"})).json()["items"]
    assert _codes(row) == {"no-baseline": "occurred_at"}
    await post(client, pain("late-baseline", 7, at="2019-02-10T10:00:00Z"))
    [row] = (await client.get(EVENTS, params={"event_id": "r1"})).json()["items"]
    assert row["warnings"] == []
    assert (await post(client, first)).json()["warnings"] == []  # the replay says so too


async def test_only_augmentation_procedures_need_a_baseline(client: AsyncClient) -> None:
    ablation = procedure("c1", "OR-7", ["L3"], data={"kind": "cryoablation"})
    created = await post(client, ablation)
    assert created.status_code == 201, created.text
    assert created.json()["warnings"] == []


async def test_a_drug_carries_its_rxnorm_code_where_one_is_verified(client: AsyncClient) -> None:
    await post(client, medication("m1", "Morphine"))
    await post(client, medication("m2", "hydromorphone"))  # known, no verified code
    await post(client, medication("m3", "oxycodon"))  # not known
    items = (await client.get("/api/v1/follow-ups", params={"kind": "medication"})).json()
    codes = {i["drug"]: i["drug_rxnorm"] for i in items["items"]}
    assert codes == {"morphine": "7052", "hydromorphone": None, "oxycodon": None}
