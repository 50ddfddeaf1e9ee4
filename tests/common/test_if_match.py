"""Optimistic concurrency: updates need If-Match (428 without), a stale ETag is refused (412),
so two clinicians cannot silently overwrite each other."""

import asyncio

from httpx import AsyncClient

from tests.factories import add_pain, make_patient


async def test_an_update_without_if_match_is_refused(client: AsyncClient) -> None:
    patient = await make_patient(client)
    url = f"/api/v1/patients/{patient['id']}"
    for headers in ({}, {"If-Match": "*"}):
        response = await client.patch(url, json={"notes": "x"}, headers=headers)
        assert response.status_code == 428
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/if-match-required"
    assert (await client.get(url)).json()["notes"] is None


async def test_a_stale_if_match_is_refused_and_changes_nothing(client: AsyncClient) -> None:
    patient = await make_patient(client)
    url = f"/api/v1/patients/{patient['id']}"
    etag = (await client.get(url)).headers["etag"]
    first = await client.patch(url, json={"notes": "first"}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    second = await client.patch(url, json={"notes": "second"}, headers={"If-Match": etag})
    assert second.status_code == 412
    assert second.json()["type"] == "/problems/version-mismatch"
    assert (await client.get(url)).json()["notes"] == "first"


async def test_every_versioned_update_route_needs_if_match(client: AsyncClient) -> None:
    patient = await make_patient(client)
    pain = await add_pain(client, patient["id"], "2019-03-01T10:00:00Z", 6)
    body = {
        "kind": "pain",
        "patient_id": patient["id"],
        "occurred_at": "2019-03-01T10:00:00Z",
        "value": 5,
    }
    url = f"/api/v1/follow-ups/{pain['id']}"
    assert (await client.put(url, json=body)).status_code == 428
    assert (await client.put(url, json=body, headers={"If-Match": '"9"'})).status_code == 412
    assert (await client.put(url, json=body, headers={"If-Match": '"1"'})).status_code == 200


async def test_concurrent_updates_of_one_version_let_exactly_one_win(
    client: AsyncClient,
) -> None:
    patient = await make_patient(client)
    url = f"/api/v1/patients/{patient['id']}"
    etag = (await client.get(url)).headers["etag"]
    responses = await asyncio.gather(
        *(
            client.patch(url, json={"notes": f"writer {i}"}, headers={"If-Match": etag})
            for i in range(4)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    # the others lost: stale (412), or on SQLite possibly refused while the winner held the
    # write lock (503, retryable); never a silent overwrite
    assert set(statuses) - {200} <= {412, 503}
    winner = next(r for r in responses if r.status_code == 200)
    final = (await client.get(url)).json()
    assert final["notes"] == winner.json()["notes"] and final["version"] == 2
