"""Patient/$everything as R4's searchset (_since, _type, _count and next links), audited as a
read of the patient; the lossless transaction form is Patient/$transfer."""

import asyncio
from datetime import UTC, datetime

from fhir.resources.R4B.bundle import Bundle
from httpx import AsyncClient

from tests.fhir.helpers import BASE, FHIR, all_pages, next_link, outcome, searchset, seed_case


async def test_everything_is_a_searchset_of_the_case(client: AsyncClient) -> None:
    patient_id = await seed_case(client)
    body = searchset(await client.get(f"{FHIR}/Patient/{patient_id}/$everything"))
    kinds = [e["resource"]["resourceType"] for e in body["entry"]]
    assert kinds == ["Patient", "Procedure", "Procedure"] + ["Observation"] * 6
    assert body["total"] == 9 and next_link(body) is None
    for entry in body["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"{BASE}/{resource['resourceType']}/{resource['id']}"
        assert "request" not in entry and entry["search"]["mode"] == "match"
        if resource["resourceType"] != "Patient":
            assert resource["subject"] == {"reference": f"Patient/{patient_id}"}
        # each entry is what a read of it answers
        assert (await client.get(entry["fullUrl"].removeprefix("http://test"))).json() == resource
    part_of = [e["resource"]["partOf"] for e in body["entry"] if "partOf" in e["resource"]]
    assert part_of == [[{"reference": f"Procedure/{body['entry'][1]['resource']['id']}"}]] * 2


async def test_everything_pages_by_next_links(client: AsyncClient) -> None:
    patient_id = await seed_case(client)
    whole = searchset(await client.get(f"{FHIR}/Patient/{patient_id}/$everything"))
    entries, pages = await all_pages(client, f"{FHIR}/Patient/{patient_id}/$everything?_count=4")
    assert pages == 3
    assert [e["resource"]["id"] for e in entries] == [e["resource"]["id"] for e in whole["entry"]]


async def test_type_and_since(client: AsyncClient) -> None:
    patient_id = await seed_case(client)
    url = f"{FHIR}/Patient/{patient_id}/$everything"
    only = searchset(await client.get(url, params={"_type": "Procedure,Patient"}))
    assert [e["resource"]["resourceType"] for e in only["entry"]] == ["Patient"] + ["Procedure"] * 2
    await asyncio.sleep(0.01)  # ordering of timestamps, not a timed assertion
    since = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.01)
    nothing = searchset(await client.get(url, params={"_since": since}))
    assert nothing["entry"] == [] and nothing["total"] == 0
    later = (await client.post("/api/v1/events", json={"events": [
        {"source": "urn:test:epic", "event_id": "late", "type": "pain.scored",
         "occurred_at": "2019-07-01T10:00:00Z", "patient": {"system": "urn:test:mrn",
         "value": "MRN-1"}, "data": {"scale": "nrs11", "value": 3}},
    ]})).json()  # fmt: skip
    changed = searchset(await client.get(url, params={"_since": since}))
    late_id = later["results"][0]["ids"]["follow_up_id"]
    assert [e["resource"]["id"] for e in changed["entry"]] == [late_id]
    outcome(await client.get(url, params={"_since": "2019-01-01"}), 400)


async def test_unknown_parameters_are_refused_unless_lenient(client: AsyncClient) -> None:
    patient_id = await seed_case(client)
    url = f"{FHIR}/Patient/{patient_id}/$everything"
    body = outcome(await client.get(url, params={"start": "2019"}), 400)
    assert "'start'" in body["issue"][0]["details"]["text"]
    lenient = searchset(
        await client.get(url, params={"start": "2019"}, headers={"Prefer": "handling=lenient"})
    )
    assert "start" not in lenient["link"][0]["url"] and lenient["total"] == 9


async def test_transfer_is_the_transaction_form(client: AsyncClient) -> None:
    patient_id = await seed_case(client)
    body = (await client.get(f"{FHIR}/Patient/{patient_id}/$transfer")).json()
    Bundle.model_validate(body)
    assert body["type"] == "transaction"
    assert all(e["request"]["method"] == "POST" for e in body["entry"])
    again = (await client.post(f"{FHIR}/Bundle", json=body)).json()
    assert {e["response"]["status"] for e in again["entry"]} == {"200 OK"}


async def test_everything_is_audited_as_a_read_of_the_patient(client: AsyncClient) -> None:
    patient_id = await seed_case(client)
    searchset(await client.get(f"{FHIR}/Patient/{patient_id}/$everything"))
    audit = (await client.get("/api/v1/audit", params={"limit": 50})).json()["items"]
    rows = [a for a in audit if "$everything" in (a.get("resource_type") or "")]
    assert rows and rows[0]["patient_id"] == patient_id and rows[0]["action"] == "read"
