"""The Idempotency-Key header on the API's other POSTs (patients, procedures, ...)."""

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import update

from app.auth import service as auth_service
from app.db import get_sessionmaker
from app.http.guards import require
from app.main import create_app
from app.models import ApiKey, IdempotencyKey, Patient, Procedure
from app.models.base import utcnow
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
    assert other.json()["type"] == "/problems/idempotency-key-reused"
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
        assert response.json()["type"] == "/problems/bad-idempotency-key"
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
    assert response.json()["type"] == "/problems/idempotency-key-not-supported"
    assert await count(IdempotencyKey) == 0


async def test_expired_answers_are_purged(client: AsyncClient) -> None:
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


# --- a replay is an access like any other: authenticated, authorised, audited ----------------


async def _integration_key(*scopes: str, expires_in: timedelta | None = None) -> tuple[str, str]:
    """A key (and its id) for the integration that retries."""
    expires_at = utcnow() + expires_in if expires_in else None
    async with get_sessionmaker()() as session:
        row, key = await auth_service.create_key(
            session, name="integration", scopes=scopes, expires_at=expires_at
        )
        await session.commit()
    return key, str(row.id)


async def _change_key(key_id: str, **values: object) -> None:
    """What an administrator's change to the key leaves in the database."""
    async with get_sessionmaker()() as session, session.begin():
        await session.execute(update(ApiKey).where(ApiKey.id == uuid.UUID(key_id)).values(**values))
    auth_service.forget_authenticated()


async def _create_then_retry(
    app_client: AsyncClient, key: str, between: Callable[[], Awaitable[None]]
) -> tuple[Response, Response]:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "k1"}
    body = {**PATIENT, "identifiers": [{"system": "urn:mrn", "value": "MRN-REPLAY-1"}]}
    first = await app_client.post("/api/v1/patients", json=body, headers=headers)
    assert first.status_code == 201, first.text
    await between()
    return first, await app_client.post("/api/v1/patients", json=body, headers=headers)


async def test_a_revoked_key_gets_no_replay(client: AsyncClient) -> None:
    key, key_id = await _integration_key("cases:write")

    async def revoke() -> None:
        assert (await client.post(f"/api/v1/api-keys/{key_id}/revoke")).status_code == 200

    _first, again = await _create_then_retry(client, key, revoke)
    assert again.status_code == 401
    assert again.json()["type"] == "/problems/revoked-credential"
    assert "idempotent-replayed" not in again.headers and "MRN-REPLAY-1" not in again.text


async def test_an_expired_key_gets_no_replay(client: AsyncClient) -> None:
    key, key_id = await _integration_key("cases:write", expires_in=timedelta(hours=1))

    async def expire() -> None:
        await _change_key(key_id, expires_at=utcnow() - timedelta(seconds=1))

    _first, again = await _create_then_retry(client, key, expire)
    assert again.status_code == 401
    assert again.json()["type"] == "/problems/expired-credential"
    assert "MRN-REPLAY-1" not in again.text


async def test_a_key_that_lost_the_scope_gets_no_replay(client: AsyncClient) -> None:
    key, key_id = await _integration_key("cases:write", "cases:read")

    async def narrow() -> None:
        await _change_key(key_id, scopes=["cases:read"])

    _first, again = await _create_then_retry(client, key, narrow)
    assert again.status_code == 403
    assert "MRN-REPLAY-1" not in again.text


async def test_a_replay_is_audited_as_a_successful_access(client: AsyncClient) -> None:
    key, key_id = await _integration_key("cases:write")

    async def nothing() -> None:
        return None

    first, again = await _create_then_retry(client, key, nothing)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    rows = (
        await client.get("/api/v1/audit", params={"request_id": again.headers["x-request-id"]})
    ).json()["items"]
    assert len(rows) == 1, rows
    [row] = rows
    assert (row["outcome"], row["status_code"]) == ("success", 201)
    assert row["reason"] == "idempotent-replay"
    assert row["credential_id"] == key_id
    assert row["route"] == "/api/v1/patients" and row["action"] == "create"
    assert row["patient_id"] == row["resource_id"] == first.json()["id"]


async def test_the_header_is_judged_only_after_authentication(
    anonymous_client: AsyncClient,
) -> None:
    for path, key in (("/api/v1/patients", "with space"), ("/api/v1/api-keys", "new-key")):
        response = await anonymous_client.post(
            path, json=PATIENT, headers={"Idempotency-Key": key, "X-API-Key": "vtb_x"}
        )
        assert response.status_code == 401, (path, response.text)


async def test_every_post_route_claims_the_key_after_its_guard(client: AsyncClient) -> None:
    """A POST route wired without the claim would ignore the header (and run twice)."""
    spec = (await client.get("/openapi.json")).json()
    posts = [p for p, item in spec["paths"].items() if "post" in item and p.startswith("/api/v1/")]
    assert len(posts) > 5
    for path in posts:
        if path == "/api/v1/events":
            continue
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        response = await client.post(concrete, json={}, headers={"Idempotency-Key": "a b"})
        assert response.status_code == 400, (path, response.text)
        assert response.json()["type"] in {
            "/problems/bad-idempotency-key",
            "/problems/idempotency-key-not-supported",
        }


async def test_identifiers_stored_in_an_answer_are_not_replayed_to_who_lost_them() -> None:
    """An answer is stored as the credential saw it: once the credential no longer sees
    patients' identifiers, it is not replayed (the route itself needs no identifier scope)."""
    app = create_app()

    @app.post(
        "/api/v1/probe/identifiers",
        status_code=201,
        dependencies=[require("triggers:manage")],
    )
    async def probe() -> dict[str, str]:
        return {"mrn": "MRN-PROBE-7"}

    key, key_id = await _integration_key("cases:write", "triggers:manage")
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "probe-1"}
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as probing:
        first = await probing.post("/api/v1/probe/identifiers", headers=headers)
        assert first.status_code == 201
        await _change_key(key_id, scopes=["triggers:manage"])
        again = await probing.post("/api/v1/probe/identifiers", headers=headers)
    assert again.status_code == 403
    assert "MRN-PROBE-7" not in again.text
