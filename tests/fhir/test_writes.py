"""Writes: a refused transaction names every refused entry and why (one OperationOutcome issue
each, with its expression); a Location is sent only to a credential that can follow it."""

from typing import Any

from httpx import AsyncClient

from app.models import EventLog, Patient
from tests.conftest import ScopedClient
from tests.fhir.helpers import FHIR, outcome
from tests.ingestion.helpers import count

LOINC = "http://loinc.org"
MRN = {"system": "urn:test:mrn", "value": "W-1"}
PATIENT = {"resourceType": "Patient", "identifier": [MRN], "birthDate": "2005-03-14"}


def _pain(value: float, code: str = "72514-3") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "urn:uuid:p"},
        "effectiveDateTime": "2019-02-20T10:00:00Z",
        "valueQuantity": {"value": value},
    }


def _transaction(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:p" if r["resourceType"] == "Patient" else f"urn:uuid:{n}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for n, r in enumerate(resources)
        ],
    }


async def test_a_refused_transaction_names_each_entry_and_why(client: AsyncClient) -> None:
    body = _transaction(PATIENT, _pain(3), _pain(11), _pain(4, code="0000-0"))
    response = await client.post(f"{FHIR}/Bundle", json=body)
    answer = outcome(response, 422)
    summary, *entries = answer["issue"]
    assert "2 entries were refused" in summary["details"]["text"]
    assert [e["expression"] for e in entries] == [
        ["Bundle.entry[2].resource.value[x]"],
        ["Bundle.entry[3].resource.code"],
    ]
    assert entries[1]["code"] == "code-invalid" and "0000-0" in entries[1]["details"]["text"]
    assert entries[0]["details"]["text"] and entries[0]["severity"] == "error"
    assert entries[0]["diagnostics"].startswith("Bundle.entry[2] (422 Unprocessable Entity)")
    assert await count(EventLog) == 0 and await count(Patient) == 0  # nothing applied


async def test_an_entry_refused_before_validation_is_named_too(client: AsyncClient) -> None:
    body = _transaction(PATIENT, _pain(3))
    body["entry"][1]["request"]["method"] = "PUT"
    answer = outcome(await client.post(f"{FHIR}/Bundle", json=body), 422)
    assert [i["expression"] for i in answer["issue"][1:]] == [["Bundle.entry[1].request"]]
    assert "1 entry was refused" in answer["issue"][0]["details"]["text"]


async def test_location_only_for_a_credential_that_can_read_it(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    async with scoped_client("events:write") as writer:
        created = await writer.post(f"{FHIR}/Patient", json=PATIENT)
        assert created.status_code == 201, created.text
        assert "location" not in created.headers
        record_id = created.json()["id"]
        outcome(await writer.get(f"{FHIR}/Patient/{record_id}"), 403)  # why: it cannot read
        batch = await writer.post(
            f"{FHIR}/Bundle", json={**_transaction(PATIENT, _pain(3)), "type": "batch"}
        )
        assert [e["response"] for e in batch.json()["entry"]] == [
            {"status": "200 OK"},
            {"status": "201 Created"},
        ]
    async with scoped_client("events:write", "cases:read") as both:
        again = await both.post(f"{FHIR}/Patient", json=PATIENT)
        assert again.status_code == 200
        location = again.headers["location"]
        assert location == f"{FHIR}/Patient/{record_id}"
        assert (await both.get(location)).json()["id"] == record_id
    audit = (await client.get("/api/v1/audit", params={"limit": 50})).json()["items"]
    creates = [
        a for a in audit if a["action"] == "create" and a["resource_type"] == "fhir/r4/Patient"
    ]
    assert [a["resource_id"] for a in creates] == [record_id] * 2  # audited, Location or not
