"""API keys: random, shown once, stored as an HMAC only, identified by a prefix, expirable,
revocable; managed by admins; scopes with exactly two implications."""

from datetime import UTC, datetime, timedelta

from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import keys
from app.auth.service import forget_authenticated
from app.config import get_settings
from app.models import ApiKey
from tests.conftest import ScopedClient
from tests.factories import make_patient

PATIENTS = "/api/v1/patients"


async def test_a_key_is_shown_once_and_stored_only_as_a_hash(
    scoped_client: ScopedClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with scoped_client("admin") as admin:
        created = await admin.post(
            "/api/v1/api-keys", json={"name": "dashboard", "scopes": ["stats:read"]}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        key = body["key"]
        assert key.startswith(f"vtb_{body['prefix']}_") and len(key) == 56
        assert body["label"] == f"vtb_{body['prefix']}"
        assert created.headers["location"] == f"/api/v1/api-keys/{body['id']}"
        listed = (await admin.get("/api/v1/api-keys")).json()["items"]
        read = (await admin.get(f"/api/v1/api-keys/{body['id']}")).json()
    mine = next(k for k in listed if k["id"] == body["id"])
    for shown in (mine, read):
        assert "key" not in shown and "secret_hash" not in shown
        assert shown["scopes"] == ["stats:read"]
    async with sessionmaker() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.prefix == body["prefix"]))
    assert row is not None
    assert row.secret_hash != key and key not in row.secret_hash
    assert len(row.secret_hash) == 64
    secret = get_settings().secret_key.get_secret_value()
    assert keys.verify(key, row.secret_hash, secret)
    assert not keys.verify(key, row.secret_hash, secret + "-rotated")


async def test_generated_keys_do_not_repeat() -> None:
    generated = [keys.generate() for _ in range(200)]
    assert len({k.key for k in generated}) == 200
    assert all(keys.parse_prefix(k.key) == k.prefix for k in generated)


async def test_both_headers_carry_a_key(client: AsyncClient, anonymous_client: AsyncClient) -> None:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "reader", "scopes": ["cases:read"]}
    )
    key = created.json()["key"]
    bearer = await anonymous_client.get(PATIENTS, headers={"Authorization": f"Bearer {key}"})
    x_api_key = await anonymous_client.get(PATIENTS, headers={"X-API-Key": key})
    assert bearer.status_code == 200 and x_api_key.status_code == 200


async def test_a_revoked_key_stops_working_at_once(
    client: AsyncClient, anonymous_client: AsyncClient
) -> None:
    created = (
        await client.post("/api/v1/api-keys", json={"name": "ehr", "scopes": ["cases:read"]})
    ).json()
    headers = {"X-API-Key": created["key"]}
    assert (await anonymous_client.get(PATIENTS, headers=headers)).status_code == 200
    revoked = await client.post(f"/api/v1/api-keys/{created['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = await anonymous_client.get(PATIENTS, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["type"] == "/problems/revoked-credential"
    again = await client.post(f"/api/v1/api-keys/{created['id']}/revoke")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    active = (await client.get("/api/v1/api-keys")).json()["items"]
    assert created["id"] not in {k["id"] for k in active}
    everything = (await client.get("/api/v1/api-keys?include_revoked=true")).json()["items"]
    assert created["id"] in {k["id"] for k in everything}


async def test_a_key_revoked_by_another_process_is_refused_once_the_cache_forgets_it(
    client: AsyncClient,
    anonymous_client: AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Authentications are cached AUTH_CACHE_SECONDS per process: a revocation made by another
    process (here: straight in the database) is honoured when the entry expires."""
    assert get_settings().auth_cache_seconds > 0
    created = (
        await client.post("/api/v1/api-keys", json={"name": "ehr", "scopes": ["cases:read"]})
    ).json()
    headers = {"X-API-Key": created["key"]}
    assert (await anonymous_client.get(PATIENTS, headers=headers)).status_code == 200
    async with sessionmaker() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == created["prefix"])
            .values(revoked_at=datetime.now(UTC))
        )
        await session.commit()
    within = await anonymous_client.get(PATIENTS, headers=headers)
    assert within.status_code == 200  # the documented window
    forget_authenticated()  # the cache time passes
    refused = await anonymous_client.get(PATIENTS, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["type"] == "/problems/revoked-credential"


async def test_an_expired_key_is_refused(
    client: AsyncClient,
    anonymous_client: AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = (
        await client.post(
            "/api/v1/api-keys",
            json={"name": "temp", "scopes": ["cases:read"], "expires_at": tomorrow},
        )
    ).json()
    headers = {"X-API-Key": created["key"]}
    assert (await anonymous_client.get(PATIENTS, headers=headers)).status_code == 200
    async with sessionmaker() as session:  # a day passes
        await session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == created["prefix"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    forget_authenticated()  # (and so does the cache time of recent authentications)
    refused = await anonymous_client.get(PATIENTS, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["type"] == "/problems/expired-credential"


async def test_a_tampered_secret_is_refused(
    client: AsyncClient, anonymous_client: AsyncClient
) -> None:
    key = (
        await client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["cases:read"]})
    ).json()["key"]
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    response = await anonymous_client.get(PATIENTS, headers={"X-API-Key": tampered})
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/unknown-credential"


async def test_invalid_key_requests_are_refused(client: AsyncClient) -> None:
    unknown = await client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["root"]})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "scopes"
    empty = await client.post("/api/v1/api-keys", json={"name": "x", "scopes": []})
    assert empty.status_code == 422
    past = await client.post(
        "/api/v1/api-keys",
        json={"name": "x", "scopes": ["cases:read"], "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert past.status_code == 422
    assert past.json()["errors"][0]["field"] == "expires_at"


async def test_only_admins_manage_keys(scoped_client: ScopedClient) -> None:
    async with scoped_client("cases:write", "stats:research", "triggers:manage") as clinician:
        response = await clinician.post(
            "/api/v1/api-keys", json={"name": "mine", "scopes": ["admin"]}
        )
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/insufficient-scope"
    assert 'scope="admin"' in response.headers["www-authenticate"]


async def test_write_implies_read_but_admin_implies_nothing(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    patient = await make_patient(client)
    async with scoped_client("cases:write") as clinician:
        assert (await clinician.get(f"{PATIENTS}/{patient['id']}")).status_code == 200
    async with scoped_client("admin") as admin:
        assert (await admin.get(f"{PATIENTS}/{patient['id']}")).status_code == 403
    async with scoped_client("cases:read") as reader:
        created = await reader.post(PATIENTS, json={"sex": "male"})
    assert created.status_code == 403


async def test_research_implies_aggregate_statistics() -> None:
    from app.auth.scopes import expand, without

    assert expand(["stats:research"]) == {"stats:research", "stats:read"}
    assert expand(["admin"]) == {"admin"}
    assert "stats:research" not in without(["stats:read"])
    assert "cases:write" not in without(["cases:read"])
