"""Clinical dates must be plausible (1900 or later, not in the future) and representable in
UTC, through every door: a year-1 procedure was accepted and then broke the imaging-trigger
evaluation and the statistics (a baseline window before year 1)."""

from httpx import AsyncClient

from app.models import EventLog, Procedure, TriggerEvaluationMark
from tests.ingestion.helpers import count, pain, post, procedure

FHIR_JSON = {"content-type": "application/fhir+json"}


async def test_events_rest_and_fhir_refuse_implausible_dates(client: AsyncClient) -> None:
    early = await post(
        client, {**procedure("p1", "OR-1", ["L3"]), "occurred_at": "1899-12-31T10:00:00Z"}
    )
    assert early.status_code == 422, early.text
    assert [e["field"] for e in early.json()["errors"]] == ["occurred_at"]
    overflow = await post(client, {**pain("s1", 3), "occurred_at": "0001-01-01T00:00:00+14:00"})
    assert overflow.status_code == 422, overflow.text
    assert await count(EventLog) == 0 and await count(Procedure) == 0

    patient = await client.post(
        "/api/v1/patients", json={"sex": "male", "birth_date": "1850-01-01"}
    )
    assert patient.status_code == 422, patient.text
    assert patient.json()["errors"][0]["field"].endswith("birth_date")

    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"identifier": {"system": "urn:x", "value": "MRN-9"}},
        "effectiveDateTime": "0001-01-01T00:00:00+14:00",
        "valueInteger": 4,
    }
    fhir = await client.post("/fhir/r4/Observation", json=observation, headers=FHIR_JSON)
    assert fhir.status_code == 422, fhir.text
    assert fhir.json()["resourceType"] == "OperationOutcome"


async def test_the_oldest_plausible_procedure_is_taken_and_evaluated(client: AsyncClient) -> None:
    events = [
        procedure("p1", "OR-1", ["L3"], at="1900-01-02T00:00:00Z"),  # baseline window: 1899
        pain("b", 8, at="1900-01-01T12:00:00Z"),
        pain("s", 2, at="1900-01-16T12:00:00Z"),
    ]
    assert (await post(client, {"events": events})).json()["created"] == 3
    assert await count(TriggerEvaluationMark) == 0  # the evaluation ran through (no mark left)
    early = await post(client, pain("x", 3, at="1900-01-01T00:00:00+14:00"))  # 1899 in UTC
    assert early.status_code == 422, early.text
    stats = await client.get("/api/v1/stats/outcomes", params={"kind": "vertebroplasty"})
    assert stats.status_code == 200, stats.text


async def test_an_api_key_expiry_beyond_utc_is_refused(client: AsyncClient) -> None:
    body = {"name": "far", "scopes": ["stats:read"], "expires_at": "9999-12-31T23:59:59-12:00"}
    response = await client.post("/api/v1/api-keys", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].endswith("expires_at")
