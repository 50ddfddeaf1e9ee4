"""Small request builders so tests state only what they are about."""

from typing import Any

from httpx import AsyncClient


async def make_patient(client: AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "birth_date": "2005-03-14",
        "sex": "female",
        "histology": "alveolar rhabdomyosarcoma",
        "relapsed_refractory": True,
        **overrides,
    }
    response = await client.post("/api/v1/patients", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_procedure(client: AsyncClient, patient_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "patient_id": patient_id,
        "kind": "vertebroplasty",
        "performed_at": "2019-02-12T09:30:00Z",
        "levels": [{"level": "T7", "approach": "costotransverse", "needle_gauge": 13}],
        **overrides,
    }
    response = await client.post("/api/v1/procedures", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def add_pain(
    client: AsyncClient, patient_id: str, at: str, value: float, **overrides: Any
) -> dict[str, Any]:
    body = {"kind": "pain", "patient_id": patient_id, "occurred_at": at, "value": value}
    response = await client.post("/api/v1/follow-ups", json={**body, **overrides})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
