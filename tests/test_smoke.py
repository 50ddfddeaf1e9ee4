from httpx import AsyncClient

from tests.factories import make_patient


async def test_health_and_ready(client: AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_patient_round_trip(client: AsyncClient) -> None:
    patient = await make_patient(client, identifiers=[{"system": "mrn", "value": "A1"}])
    read = await client.get(f"/api/v1/patients/{patient['id']}")
    assert read.status_code == 200
    assert read.json()["identifiers"] == [{"system": "mrn", "value": "A1"}]
    assert read.headers["etag"] == '"1"'
