"""What the resources say: CPT primary plus one add-on per additional level; Observation
category (survey); partOf only inside the procedure's episode; the displays of codes.py."""

from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.procedure import Procedure
from httpx import AsyncClient

from app.ingestion.fhir.codes import OBSERVATION_DISPLAY, PROCEDURE_CPT_DISPLAY, cpt_codes
from tests.fhir.helpers import FHIR, searchset
from tests.ingestion.helpers import event, pain, post, procedure

CPT = "http://www.ama-assn.org/go/cpt"


@pytest.mark.parametrize(
    ("kind", "levels", "expected"),
    [
        ("vertebroplasty", ["L2", "T11", "L3", "L4"], ["22510", "22512", "22512", "22512"]),
        ("vertebroplasty", ["L4", "L5"], ["22511", "22512"]),
        ("vertebroplasty", ["S1"], ["22511"]),
        ("vertebroplasty", ["T7"], ["22510"]),
        ("kyphoplasty", ["T12", "L1"], ["22513", "22515"]),
        ("kyphoplasty", ["L5", "S1"], ["22514"]),  # 22515 covers thoracic or lumbar only
        ("kyphoplasty", ["C5"], []),
        ("cryoablation", ["L3", "L4"], ["20983"]),
        ("radiotherapy", ["L3"], []),
    ],
)
def test_cpt_primary_and_add_ons(kind: str, levels: list[str], expected: list[str]) -> None:
    assert cpt_codes(kind, levels) == expected


async def _post(client: AsyncClient, *events: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = (await post(client, {"events": list(events)})).json()
    assert body["created"] == len(events), body
    return body


async def test_a_procedure_carries_its_add_ons_and_parses(client: AsyncClient) -> None:
    body = await _post(
        client,
        event("patient.registered", "r", {"birth_date": "2005-03-14", "sex": "female"}),
        procedure("p", "OR-1", ["T11", "L2", "L3", "L4"]),
    )
    procedure_id = body["results"][1]["ids"]["procedure_id"]
    resource = (await client.get(f"{FHIR}/Procedure/{procedure_id}")).json()
    Procedure.model_validate(resource)
    codings = resource["code"]["coding"]
    assert [c["code"] for c in codings] == ["22510", "22512", "22512", "22512"]
    assert all(
        c["system"] == CPT and c["display"] == PROCEDURE_CPT_DISPLAY[c["code"]] for c in codings
    )
    assert [s["text"] for s in resource["bodySite"]] == ["T11", "L2", "L3", "L4"]
    # the FHIR door takes the same resource back (primary and add-ons name one kind)
    resource.pop("id")
    resource["identifier"] = [{"system": "urn:test:or", "value": "OR-2"}]
    again = await client.post(f"{FHIR}/Procedure", json=resource)
    assert again.status_code == 201, again.text


async def test_observations_have_category_and_their_displays(client: AsyncClient) -> None:
    await _post(
        client,
        event("patient.registered", "r", {"birth_date": "2005-03-14", "sex": "female"}),
        pain("s", 4),
        event("performance.scored", "l", {"scale": "lansky", "value": 70}),
        pain("w", 4, data={"scale": "wong_baker"}),
    )
    found = searchset(await client.get(f"{FHIR}/Observation"))
    for entry in found["entry"]:
        resource = entry["resource"]
        Observation.model_validate(resource)
        assert resource["category"] == [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                        "display": "Survey",
                    }
                ]
            }
        ]
        [coding] = resource["code"]["coding"]
        assert coding["display"] == OBSERVATION_DISPLAY[(coding["system"], coding["code"])]
    displays = {e["resource"]["code"]["coding"][0]["display"] for e in found["entry"]}
    assert "Lansky Play-Performance Status" in displays
    assert "Pain severity Wong-Baker FACES pain rating scale" in displays


async def test_part_of_only_inside_the_procedures_episode(client: AsyncClient) -> None:
    """p1 on T7 (12 Feb 2019); p2 on T7 and T8 (1 Aug 2019) ends p1's episode. Scores linked to
    p1: before it (no), during its episode (yes), after p2 (no); linked to p2 after it (yes)."""
    body = await _post(
        client,
        event("patient.registered", "r", {"birth_date": "2005-03-14", "sex": "female"}),
        procedure("p1", "OR-1", ["T7"], at="2019-02-12T09:00:00Z"),
        procedure("p2", "OR-2", ["T7", "T8"], at="2019-08-01T09:00:00Z"),
        pain("before", 7, at="2019-02-10T10:00:00Z", data={"procedure_ref": "OR-1"}),
        pain("during", 3, at="2019-03-01T10:00:00Z", data={"procedure_ref": "OR-1"}),
        pain("after", 6, at="2019-09-01T10:00:00Z", data={"procedure_ref": "OR-1"}),
        pain("second", 2, at="2019-09-02T10:00:00Z", data={"procedure_ref": "OR-2"}),
    )
    ids = [r["ids"] for r in body["results"]]
    p1, p2 = ids[1]["procedure_id"], ids[2]["procedure_id"]
    expected = {
        ids[3]["follow_up_id"]: None,
        ids[4]["follow_up_id"]: [{"reference": f"Procedure/{p1}"}],
        ids[5]["follow_up_id"]: None,
        ids[6]["follow_up_id"]: [{"reference": f"Procedure/{p2}"}],
    }
    for follow_up_id, part_of in expected.items():
        read = (await client.get(f"{FHIR}/Observation/{follow_up_id}")).json()
        assert read.get("partOf") == part_of, follow_up_id
    patient = ids[0]["patient_id"]
    everything = searchset(await client.get(f"{FHIR}/Patient/{patient}/$everything"))
    seen = {
        e["resource"]["id"]: e["resource"].get("partOf")
        for e in everything["entry"]
        if e["resource"]["resourceType"] == "Observation"
    }
    assert seen == expected
    searched = searchset(await client.get(f"{FHIR}/Observation", params={"patient": patient}))
    assert {e["resource"]["id"]: e["resource"].get("partOf") for e in searched["entry"]} == expected
    # $transfer is lossless: the registry's link goes with every score
    transfer = (await client.get(f"{FHIR}/Patient/{patient}/$transfer")).json()
    linked = [e for e in transfer["entry"] if "partOf" in e["resource"]]
    assert len(linked) == 4
