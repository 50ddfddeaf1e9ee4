"""The senders' identifiers on the FHIR door: kept for every resource it accepts, matched by
If-None-Exist and by a retried plain create, returned on read and in $transfer; identical
creates sent at once (20 of them, real concurrency on the database) leave one record, answer
201 once and 200 to every twin, never 409."""

import asyncio
import copy
from collections import Counter
from typing import Any

import pytest
from httpx import AsyncClient, Response

from app.ingestion.fhir.router import (
    BUNDLE_EXAMPLE,
    OBSERVATION_EXAMPLE,
    PATIENT_EXAMPLE,
    PROCEDURE_EXAMPLE,
)
from app.models import Base, FollowUpEvent, Patient, Procedure
from tests.ingestion.helpers import count

FHIR = "/fhir/r4"
FJ = {"content-type": "application/fhir+json"}
EXAMPLES = {
    "Patient": PATIENT_EXAMPLE,
    "Procedure": PROCEDURE_EXAMPLE,
    "Observation": OBSERVATION_EXAMPLE,
}
MODEL: dict[str, type[Base]] = {
    "Patient": Patient,
    "Procedure": Procedure,
    "Observation": FollowUpEvent,
}


async def _post(client: AsyncClient, kind: str, body: Any, **headers: str) -> Response:
    return await client.post(f"{FHIR}/{kind}", json=body, headers={**FJ, **headers})


def _condition(resource: dict[str, Any]) -> dict[str, str]:
    ident = resource["identifier"][0]
    return {"If-None-Exist": f"identifier={ident['system']}|{ident['value']}"}


async def _counts() -> list[int]:
    return [await count(m) for m in (Patient, Procedure, FollowUpEvent)]


async def test_every_documented_example_posted_twice_leaves_one_record(
    client: AsyncClient,
) -> None:
    """The request examples of /docs, as the OpenAPI document gives them, the Bundle first."""
    spec = (await client.get("/openapi.json")).json()
    examples = {
        path: example["value"]
        for path, item in spec["paths"].items()
        if path.startswith(FHIR) and "post" in item
        for example in item["post"]["requestBody"]["content"][FJ["content-type"]][
            "examples"
        ].values()
    }
    assert set(examples) == {
        f"{FHIR}/{k}" for k in ("Bundle", "Patient", "Procedure", "Observation")
    }
    bundle_example = examples.pop(f"{FHIR}/Bundle")
    for attempt in range(2):
        bundle = await client.post(f"{FHIR}/Bundle", json=bundle_example, headers=FJ)
        assert bundle.status_code == 200, bundle.text
        statuses = [e["response"]["status"] for e in bundle.json()["entry"]]
        assert statuses == (["201 Created"] if attempt == 0 else ["200 OK"]) * 3
        assert await _counts() == [1, 1, 1]
    for path, example in examples.items():  # each single example as a plain create, twice
        for _ in range(2):
            response = await client.post(path, json=example, headers=FJ)
            assert response.status_code == 200, (path, response.text)
            assert await _counts() == [1, 1, 1], path
            assert response.json()["identifier"] == example["identifier"]


@pytest.mark.parametrize("kind", ["Patient", "Procedure", "Observation"])
async def test_a_plain_create_retried_is_answered_with_the_stored_resource(
    client: AsyncClient, kind: str
) -> None:
    if kind != "Patient":
        await _post(client, "Patient", PATIENT_EXAMPLE)
    if kind == "Observation":
        await _post(client, "Procedure", PROCEDURE_EXAMPLE)
    first = await _post(client, kind, EXAMPLES[kind])
    again = await _post(client, kind, EXAMPLES[kind])  # the answer was lost: sent again
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert await count(MODEL[kind]) == 1


@pytest.mark.parametrize("conditional", [True, False], ids=["If-None-Exist", "plain"])
@pytest.mark.parametrize("kind", ["Patient", "Procedure", "Observation"])
async def test_identical_creates_at_once_answer_201_once_and_200_to_the_twins(
    client: AsyncClient, kind: str, conditional: bool
) -> None:
    if kind != "Patient":
        await _post(client, "Patient", PATIENT_EXAMPLE)
    example = EXAMPLES[kind]
    headers = _condition(example) if conditional else {}
    responses = await asyncio.gather(*(_post(client, kind, example, **headers) for _ in range(20)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 200: 19}, [r.text for r in responses if r.status_code >= 400]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count(MODEL[kind]) == 1


async def test_the_documented_bundle_twenty_times_at_once(client: AsyncClient) -> None:
    responses = await asyncio.gather(*(_post(client, "Bundle", BUNDLE_EXAMPLE) for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    per_entry = [
        Counter(r.json()["entry"][i]["response"]["status"] for r in responses) for i in range(3)
    ]
    assert per_entry == [{"201 Created": 1, "200 OK": 19}] * 3
    assert await _counts() == [1, 1, 1]


async def test_the_senders_identifiers_come_back_and_are_matched(client: AsyncClient) -> None:
    await _post(client, "Patient", PATIENT_EXAMPLE)
    both = [
        {"system": "urn:example:bcch:or", "value": "OR-9"},
        {"system": "urn:example:bcch:surgery", "value": "S-9"},
    ]
    procedure = {**copy.deepcopy(PROCEDURE_EXAMPLE), "identifier": both}
    observation = copy.deepcopy(OBSERVATION_EXAMPLE)
    observation["identifier"].append({"system": "urn:example:bcch:lab", "value": "LAB-7"})
    observation["partOf"] = [{"identifier": both[0]}]  # the procedure's reference: its first
    created = {
        "Procedure": await _post(client, "Procedure", procedure),
        "Observation": await _post(client, "Observation", observation),
    }
    sent = {"Procedure": procedure, "Observation": observation}
    for kind, response in created.items():
        assert response.status_code == 201, response.text
        read = (await client.get(f"{FHIR}/{kind}/{response.json()['id']}")).json()
        assert read["identifier"] == sent[kind]["identifier"], kind
        second = sent[kind]["identifier"][1]  # the condition may name any of them
        header = {"If-None-Exist": f"identifier={second['system']}|{second['value']}"}
        matched = await _post(client, kind, sent[kind], **header)
        assert (matched.status_code, matched.json()["id"]) == (200, response.json()["id"])
    read = (await client.get(f"{FHIR}/Observation/{created['Observation'].json()['id']}")).json()
    assert read["partOf"] == [{"reference": f"Procedure/{created['Procedure'].json()['id']}"}]
    patient_id = (await client.get(f"/api/v1/follow-ups/{read['id']}")).json()["patient_id"]
    bundle = (await client.get(f"{FHIR}/Patient/{patient_id}/$transfer")).json()
    by_kind = {e["resource"]["resourceType"]: e for e in bundle["entry"]}
    for kind in ("Procedure", "Observation"):
        assert by_kind[kind]["resource"]["identifier"] == sent[kind]["identifier"]
        first = sent[kind]["identifier"][0]
        assert by_kind[kind]["request"]["ifNoneExist"] == (
            f"identifier={first['system']}|{first['value']}"
        )
    assert await count(Procedure) == 1 and await count(FollowUpEvent) == 1


async def test_an_identifier_is_one_record_across_patients(client: AsyncClient) -> None:
    await _post(client, "Observation", OBSERVATION_EXAMPLE)
    other = copy.deepcopy(OBSERVATION_EXAMPLE)
    other["subject"] = {"identifier": {"system": "urn:example:bcch:mrn", "value": "MRN-0099"}}
    del other["partOf"]
    taken = await _post(client, "Observation", other)  # the sender's id names another record
    assert taken.status_code == 409, taken.text
    assert taken.json()["issue"][0]["diagnostics"] == "identifier-taken"
    assert await count(FollowUpEvent) == 1 and await count(Patient) == 1


async def test_one_identifier_for_two_records_of_a_batch_is_refused(client: AsyncClient) -> None:
    first = copy.deepcopy(OBSERVATION_EXAMPLE)
    second = copy.deepcopy(OBSERVATION_EXAMPLE)  # another identity first, then the same one
    second["identifier"].insert(0, {"system": "urn:example:bcch:lab", "value": "LAB-1"})
    second["valueQuantity"]["value"] = 7
    entries = [
        {"resource": resource, "request": {"method": "POST", "url": "Observation"}}
        for resource in (first, second)
    ]
    response = await _post(
        client, "Bundle", {"resourceType": "Bundle", "type": "batch", "entry": entries}
    )
    assert response.status_code == 200, response.text
    answers = [e["response"] for e in response.json()["entry"]]
    assert [a["status"] for a in answers] == ["201 Created", "409 Conflict"]
    issue = answers[1]["outcome"]["issue"][0]
    assert (issue["diagnostics"], issue["expression"]) == (
        "identifier-taken",
        ["Bundle.entry[1].resource.identifier"],
    )
    assert await count(FollowUpEvent) == 1
