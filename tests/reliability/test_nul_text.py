"""U+0000 in any text (a body, a query, a path, a FHIR resource) is a 4xx naming where it
was, and stores nothing: PostgreSQL's text and jsonb cannot hold it (it was a 500 there).
Likewise a FHIR resource nested deeper than its validation can recurse."""

from typing import Any

from httpx import AsyncClient

from app.models import EventLog, Patient
from tests.ingestion.helpers import count, pain, post

FHIR_JSON = {"content-type": "application/fhir+json"}


def _fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


async def test_rest_bodies_queries_and_paths(client: AsyncClient) -> None:
    before = await count(Patient)
    body = {"sex": "female", "birth_date": "2005-01-01", "histology": "Ewing\x00sarcoma"}
    created = await client.post("/api/v1/patients", json=body)
    assert created.status_code == 422, created.text
    assert created.headers["content-type"].startswith("application/problem+json")
    assert [f.rsplit(".", 1)[-1] for f in _fields(created)] == ["histology"]
    nested = {"sex": "female", "identifiers": [{"system": "urn:x", "value": "1\x00"}]}
    refused = await client.post("/api/v1/patients", json=nested)
    assert refused.status_code == 422 and "value" in _fields(refused)[0], refused.text
    assert await count(Patient) == before

    query = await client.get("/api/v1/patients", params={"histology": "\x00"})
    assert query.status_code == 422 and _fields(query) == ["query.histology"], query.text
    stats = await client.get("/api/v1/stats/outcomes", params={"histology": "a\x00"})
    assert stats.status_code == 422 and _fields(stats) == ["query.histology"]
    literal = await client.get("/api/v1/patients", params={"histology": "100%00"})
    assert literal.status_code == 200, literal.text  # "%00" spelled out is just text
    path = await client.get("/api/v1/patients/%00")
    assert path.status_code == 422 and _fields(path) == ["path"], path.text


async def test_events_alone_and_in_a_batch(client: AsyncClient) -> None:
    alone = await post(client, pain("e\x00", 3))
    assert alone.status_code == 422 and _fields(alone) == ["event_id"], alone.text
    batch = await post(client, {"events": [pain("ok", 3), pain("bad", 4, data={"note": "\x00"})]})
    assert batch.status_code == 200, batch.text
    body = batch.json()
    assert (body["created"], body["rejected"]) == (1, 1)
    assert body["results"][1]["problem"]["errors"][0]["field"] == "data.note"
    assert await count(EventLog) == 1  # the valid event only


async def test_the_fhir_door(client: AsyncClient) -> None:
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:x", "value": "1\x00"}]}
    response = await client.post("/fhir/r4/Patient", json=patient, headers=FHIR_JSON)
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Patient.identifier[0].value"]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": {**patient, "gender": "female"}}],
    }
    answered = await client.post("/fhir/r4/Bundle", json=bundle, headers=FHIR_JSON)
    assert answered.status_code == 422, answered.text
    assert answered.json()["issue"][0]["expression"] == [
        "Bundle.entry[0].resource.identifier[0].value"
    ]
    assert await count(Patient) == 0 and await count(EventLog) == 0


async def test_a_fhir_resource_nested_too_deeply_is_refused(client: AsyncClient) -> None:
    """fhir.resources validates recursively: 200 nested extensions exhausted Python's stack
    (a 500); the door refuses a body nested more than 64 levels before validating it."""
    depth = 200
    inner = '{"url":"urn:x","valueString":"v"}'
    nested = '{"url":"urn:x","extension":[' * depth + inner + "]}" * depth
    patient = (
        '{"resourceType":"Patient","gender":"female",'
        '"identifier":[{"system":"urn:m","value":"deep"}],"extension":[' + nested + "]}"
    )
    response = await client.post("/fhir/r4/Patient", content=patient.encode(), headers=FHIR_JSON)
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["code"] == "too-costly"
    shallow = patient.replace(nested, inner)
    accepted = await client.post("/fhir/r4/Patient", content=shallow.encode(), headers=FHIR_JSON)
    assert accepted.status_code == 201, accepted.text
    assert await count(Patient) == 1
