"""The Idempotency-Key header on the API's other POSTs (patients, procedures, ...)."""

import asyncio
from collections import Counter

from httpx import AsyncClient

from app.models import IdempotencyKey, Patient, Procedure
from tests.conftest import ScopedClient
from tests.factories import make_patient
from tests.ingestion.helpers import count, pain, post

PATIENT = {"sex": "female", "birth_date": "2005-03-14"}


async def test_a_retried_patient_create_is_answered_from_the_first(client: AsyncClient) -> None:
    headers = {"Idempotency-Key": "create-patient-1"}
    first = await client.post("/api/v1/patients", json=PATIENT, headers=headers)
    again = await client.post("/api/v1/patients", json=PATIENT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count(Patient) == 1


async def test_a_retried_procedure_create_is_answered_from_the_first(client: AsyncClient) -> None:
    patient = await make_patient(client)
    body = {
        "patient_id": patient["id"],
        "kind": "vertebroplasty",
        "performed_at": "2019-02-12T09:30:00Z",
        "levels": [{"level": "T7"}],
    }
    headers = {"Idempotency-Key": "proc-1"}
    first = await client.post("/api/v1/procedures", json=body, headers=headers)
    again = await client.post("/api/v1/procedures", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert await count(Procedure) == 1


async def test_without_the_header_every_post_creates(client: AsyncClient) -> None:
    await client.post("/api/v1/patients", json=PATIENT)
    await client.post("/api/v1/patients", json=PATIENT)
    assert await count(Patient) == 2


async def test_the_same_key_for_another_request_is_refused(client: AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    await client.post("/api/v1/patients", json=PATIENT, headers=headers)
    other = await client.post("/api/v1/patients", json={**PATIENT, "sex": "male"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:vertebro:problem:idempotency-key-reused"
    assert await count(Patient) == 1


async def test_concurrent_requests_with_one_key_have_one_effect(client: AsyncClient) -> None:
    headers = {"Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/patients", json=PATIENT, headers=headers) for _ in range(10))
    )
    assert Counter(r.status_code for r in responses) == {201: 10}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 9
    assert await count(Patient) == 1 and await count(IdempotencyKey) == 1


async def test_an_error_is_not_stored_so_the_retry_runs(client: AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-err"}
    identifiers = [{"system": "urn:mrn", "value": "A"}]
    await make_patient(client, identifiers=identifiers)
    taken = await client.post(
        "/api/v1/patients", json={**PATIENT, "identifiers": identifiers}, headers=headers
    )
    assert taken.status_code == 409
    assert await count(IdempotencyKey) == 0
    retry = await client.post(
        "/api/v1/patients", json={**PATIENT, "identifiers": identifiers}, headers=headers
    )
    assert retry.status_code == 409 and "idempotent-replayed" not in retry.headers


async def test_keys_belong_to_the_credential_that_used_them(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    mine = await client.post("/api/v1/patients", json=PATIENT, headers=headers)
    async with scoped_client("cases:write") as other:
        theirs = await other.post("/api/v1/patients", json=PATIENT, headers=headers)
    assert theirs.status_code == 201 and theirs.json()["id"] != mine.json()["id"]
    assert "idempotent-replayed" not in theirs.headers


async def test_a_malformed_key_is_refused(client: AsyncClient) -> None:
    for key in ("x" * 256, "with space"):
        response = await client.post(
            "/api/v1/patients", json=PATIENT, headers={"Idempotency-Key": key}
        )
        assert response.status_code == 400
        assert response.json()["type"] == "urn:vertebro:problem:bad-idempotency-key"
    assert await count(Patient) == 0


async def test_events_keep_their_own_key(client: AsyncClient) -> None:
    headers = {"Idempotency-Key": "ignored-here"}
    first = await post(client, pain("e1", 5), headers=headers)
    second = await post(client, pain("e2", 5, at="2019-02-27T10:00:00Z"), headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert await count(IdempotencyKey) == 0


async def test_answers_carrying_a_secret_are_never_stored(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "integration", "scopes": ["events:write"]},
        headers={"Idempotency-Key": "new-key"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:vertebro:problem:idempotency-key-not-supported"
    assert await count(IdempotencyKey) == 0


async def test_expired_answers_are_purged(client: AsyncClient) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from app.db import get_sessionmaker
    from app.models.base import utcnow

    await client.post("/api/v1/patients", json=PATIENT, headers={"Idempotency-Key": "old"})
    async with get_sessionmaker()() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(days=2))
        )
    again = await client.post("/api/v1/patients", json=PATIENT, headers={"Idempotency-Key": "old"})
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers  # expired
    await client.post("/api/v1/patients", json=PATIENT, headers={"Idempotency-Key": "new"})
    assert await count(IdempotencyKey) == 2  # the expired row is gone
    assert await count(Patient) == 3
