"""An integration engine (`events:write`) finds a patient's registry id by its MRN, and only
that: the lookup is exact, audited, and reads nothing else of the patient."""

from httpx import AsyncClient

from app.auth.scopes import CASES_READ, EVENTS_WRITE, STATS_READ
from tests.conftest import ScopedClient
from tests.factories import make_patient

URL = "/api/v1/patients/by-identifier"
MRN = "urn:test:mrn"


async def test_events_write_finds_the_id_by_mrn(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    patient = await make_patient(client, identifiers=[{"system": MRN, "value": "A-77"}])
    async with scoped_client(EVENTS_WRITE) as engine:
        found = await engine.get(URL, params={"system": MRN, "value": "A-77"})
        assert found.status_code == 200, found.text
        assert found.json() == {"id": patient["id"], "system": MRN, "value": "A-77"}
        missing = await engine.get(URL, params={"system": MRN, "value": "A-7"})  # exact only
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        blank = await engine.get(URL, params={"system": MRN, "value": ""})
        assert blank.status_code == 422
        assert [e["field"] for e in blank.json()["errors"]] == ["query.value"]
    # the lookup is audited with the patient it found
    audit = await client.get("/api/v1/audit", params={"patient_id": patient["id"], "limit": 200})
    assert audit.status_code == 200, audit.text
    assert [r["outcome"] for r in audit.json()["items"] if r["route"] == URL] == ["success"]


async def test_other_scopes_cannot_use_it(client: AsyncClient, scoped_client: ScopedClient) -> None:
    await make_patient(client, identifiers=[{"system": MRN, "value": "A-78"}])
    for scope in (STATS_READ, CASES_READ):
        async with scoped_client(scope) as other:
            response = await other.get(URL, params={"system": MRN, "value": "A-78"})
            assert response.status_code == 403, (scope, response.text)
