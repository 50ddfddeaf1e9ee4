"""Group commit: single events arriving at once share transactions, and each request still
gets exactly its own answer, its own audit row, and the refusal it would get alone."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import event as sa_event
from sqlalchemy import select

from app.config import get_settings
from app.db import get_engine, get_sessionmaker
from app.ingestion import effects
from app.models import AuditEvent, Complication, EventLog, FollowUpEvent
from tests.conftest import ScopedClient
from tests.ingestion.helpers import count, event, pain, post, procedure


@contextmanager
def commits_counted() -> Iterator[list[int]]:
    counted = [0]

    def on_commit(_conn: Any) -> None:
        counted[0] += 1

    engine = get_engine().sync_engine
    sa_event.listen(engine, "commit", on_commit)
    try:
        yield counted
    finally:
        sa_event.remove(engine, "commit", on_commit)


async def audit_of(response: Response) -> list[AuditEvent]:
    async with get_sessionmaker()() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == response.headers["x-request-id"])
        )
        return list(rows)


async def at_once(client: AsyncClient, bodies: list[dict[str, Any]]) -> list[Response]:
    await client.get("/api/v1/patients")  # the key is then cached: requests hold no connection
    return list(await asyncio.gather(*(post(client, b) for b in bodies)))


async def test_concurrent_single_events_share_commits_and_keep_their_own_audit(
    client: AsyncClient,
) -> None:
    bodies = [pain(f"e{i}", i % 11, mrn=f"MRN-{i % 4}") for i in range(24)]
    with commits_counted() as commits:
        responses = await at_once(client, bodies)
    assert [r.status_code for r in responses] == [201] * 24, [r.text for r in responses]
    assert commits[0] < 24  # some transactions held several events
    assert await count(EventLog) == 24 and await count(FollowUpEvent) == 24
    for body, response in zip(bodies, responses, strict=True):
        assert response.json()["event_id"] == body["event_id"]
        (row,) = await audit_of(response)
        assert (row.status_code, row.outcome) == (201, "success")
        assert str(row.patient_id) == response.json()["ids"]["patient_id"]
        assert row.credential_id is not None


async def test_grouping_off_commits_each_event_alone(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_GROUP_MAX_EVENTS", "1")
    get_settings.cache_clear()
    try:
        with commits_counted() as commits:
            responses = await at_once(client, [pain(f"e{i}", 3) for i in range(6)])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert [r.status_code for r in responses] == [201] * 6
    assert commits[0] >= 6


async def test_a_refused_event_among_concurrent_ones_gets_its_own_refusal(
    client: AsyncClient,
) -> None:
    await post(client, procedure("p1", "OR-7", ["T7"]))
    bad = {"procedure_ref": "OR-7", "level": "L3", "kind": "hematoma", "symptomatic": True}
    bodies = [pain(f"e{i}", 4) for i in range(10)]
    bodies.insert(5, event("complication.reported", "c1", bad))
    responses = await at_once(client, bodies)
    statuses = [r.status_code for r in responses]
    assert statuses == [201] * 5 + [422] + [201] * 5, [r.text for r in responses]
    assert responses[5].json()["errors"] == [
        {"field": "data.level", "message": "L3 was not treated in this procedure."}
    ]
    assert await count(Complication) == 0 and await count(FollowUpEvent) == 10
    (row,) = await audit_of(responses[5])
    assert (row.status_code, row.outcome) == (422, "rejected")


async def test_same_key_twice_in_one_moment_once_created_once_replayed_or_conflict(
    client: AsyncClient,
) -> None:
    same = pain("dup", 5)
    different = pain("clash", 5)
    changed = pain("clash", 6)
    responses = await at_once(client, [same, different, same, changed, same])
    by_key = Counter((r.json().get("event_id"), r.status_code) for r in responses)
    assert by_key[("dup", 201)] == 1 and by_key[("dup", 200)] == 2
    assert sorted(r.status_code for r in (responses[1], responses[3])) == [201, 409]
    assert await count(EventLog) == 2 and await count(FollowUpEvent) == 2
    replays = [r for r in responses if r.status_code == 200]
    assert all(r.headers["idempotent-replayed"] == "true" for r in replays)
    assert len({str(r.json()["ids"]) for r in responses if r.json().get("event_id") == "dup"}) == 1


async def test_each_request_in_a_group_is_audited_under_its_own_key(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    async with scoped_client("events:write") as feed_a, scoped_client("events:write") as feed_b:
        clients = [feed_a, feed_b] * 6
        for n, c in enumerate((feed_a, feed_b)):  # both keys authenticated (and cached)
            assert (await post(c, pain(f"warm{n}", 1))).status_code == 201
        bodies = [pain(f"k{i}", 2) for i in range(12)]
        responses = await asyncio.gather(
            *(post(c, b) for c, b in zip(clients, bodies, strict=True))
        )
    assert [r.status_code for r in responses] == [201] * 12
    credentials = [(await audit_of(r))[0].credential_id for r in responses]
    assert len(set(credentials[0::2])) == 1 and len(set(credentials[1::2])) == 1
    assert credentials[0] != credentials[1]


async def test_a_crash_in_one_event_fails_only_its_own_request(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply = effects.apply

    async def crash_on_boom(ctx: Any, work: Any) -> Any:
        if work.ev.event_id == "boom":
            raise RuntimeError("a bug in one event's processing")
        return await apply(ctx, work)

    monkeypatch.setattr(effects, "apply", crash_on_boom)
    bodies = [pain(f"e{i}", 3) for i in range(8)]
    bodies.insert(4, pain("boom", 3))
    await client.get("/api/v1/patients")
    async with AsyncClient(
        transport=ASGITransport(app=client._transport.app, raise_app_exceptions=False),  # type: ignore[attr-defined]
        base_url="http://test",
        headers=client.headers,
    ) as tolerant:
        responses = await asyncio.gather(*(post(tolerant, b) for b in bodies))
    statuses = [r.status_code for r in responses]
    assert statuses == [201] * 4 + [500] + [201] * 4, [r.text for r in responses]
    assert responses[4].headers["content-type"] == "application/problem+json"
    assert await count(EventLog) == 8 and await count(FollowUpEvent) == 8
