"""The database goes away under load and comes back: 503s meanwhile, nothing lost or doubled.

Only on PostgreSQL (TEST_DATABASE_URL): the test runs a PostgreSQL cluster of its own
(initdb in a temporary directory, on a free port on 127.0.0.1) so it can stop and start the
server without touching the suite's, and serves the registry with a real uvicorn process.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import get_settings
from app.db import build_engine
from tests.reliability.procs import (
    Cluster,
    on_postgres,
    pain_event,
    prepare_database,
    throwaway_cluster,
    uvicorn_server,
)

pytestmark = pytest.mark.skipif(not on_postgres(), reason="needs PostgreSQL (TEST_DATABASE_URL)")

CLIENTS = 4


@dataclass
class Tally:
    acknowledged: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # unexpected answers
    timeouts: int = 0
    outage_503: int = 0  # 503 problem+json answered while the database was down


async def _client(
    base: str, key: str, number: int, stop: asyncio.Event, down: asyncio.Event, tally: Tally
) -> None:
    """Posts events one after the other; an event is retried (same id) until it gets a 2xx."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        sent = 0
        while not stop.is_set():
            event = pain_event(f"c{number}-{sent}", f"MRN-{number}", day=sent)
            while True:  # until acknowledged, whether or not `stop` is set
                try:
                    response = await client.post("/api/v1/events", json=event)
                except httpx.TimeoutException:
                    tally.timeouts += 1
                    continue
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
                    continue
                tally.statuses[response.status_code] = (
                    tally.statuses.get(response.status_code, 0) + 1
                )
                if response.status_code in (200, 201):
                    tally.acknowledged.add(str(event["event_id"]))
                    break
                kind = response.headers.get("content-type", "")
                if response.status_code == 503 and kind == "application/problem+json":
                    if down.is_set():
                        tally.outage_503 += 1
                    await asyncio.sleep(0.2)
                    continue
                tally.problems.append((response.status_code, kind, response.text[:300]))
                await asyncio.sleep(0.2)
            sent += 1


async def _probe(base: str, path: str) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return (await client.get(path)).status_code


async def _wait_for(base: str, path: str, status: int, attempts: int = 300) -> None:
    for _ in range(attempts):
        if await _probe(base, path) == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never answered {status}")


async def test_outage_is_503_and_recovery_loses_nothing() -> None:
    with throwaway_cluster() as cluster:
        url, key = await prepare_database(cluster.url())
        async with uvicorn_server(url) as server:
            tally, stop, down = Tally(), asyncio.Event(), asyncio.Event()
            clients = [
                asyncio.create_task(_client(server.base, key, n, stop, down, tally))
                for n in range(CLIENTS)
            ]
            try:
                await asyncio.sleep(2)
                before = len(tally.acknowledged)
                down.set()
                await asyncio.to_thread(cluster.stop, "fast")
                # the service stays alive and says it is not ready
                assert await _probe(server.base, "/health") == 200
                assert await _probe(server.base, "/ready") == 503
                for _ in range(300):  # until every client has been refused at least once
                    if tally.outage_503 >= CLIENTS:
                        break
                    await asyncio.sleep(0.1)
                assert tally.outage_503 >= CLIENTS
                await asyncio.sleep(1)
                assert await _probe(server.base, "/health") == 200
                await asyncio.to_thread(cluster.start)
                down.clear()
                # recovery without a restart of the service
                await _wait_for(server.base, "/ready", 200)
                recovered = len(tally.acknowledged)
                await asyncio.sleep(2)
                assert len(tally.acknowledged) > recovered > 0 and before > 0
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(*clients), 120)
        assert tally.problems == []
        assert tally.timeouts == 0
        await _assert_stored_exactly_once(cluster, url, tally.acknowledged)


async def _assert_stored_exactly_once(cluster: Cluster, url: str, acknowledged: set[str]) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT event_id, COUNT(*) FROM event_log WHERE source = 'urn:test:ehr' "
                    "GROUP BY event_id"
                )
            )
        ).all()
        follow_ups = await conn.scalar(text("SELECT COUNT(*) FROM follow_up_events"))
    await engine.dispose()
    stored = {event_id: count for event_id, count in rows}
    assert set(stored) == acknowledged  # every acknowledged event, and only those
    assert set(stored.values()) == {1}
    assert follow_ups == len(acknowledged)  # each applied once


async def test_a_statement_past_its_timeout_is_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with throwaway_cluster() as cluster:
        monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "500")
        get_settings.cache_clear()
        try:
            engine = build_engine(cluster.url())
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()
        observer = create_async_engine(cluster.url())
        try:
            with pytest.raises(DBAPIError) as raised:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT pg_sleep(30) /* long-statement */"))
            assert "cancel" in str(raised.value.orig).lower()
            async with observer.connect() as conn:
                running = await conn.scalar(
                    text(
                        "SELECT COUNT(*) FROM pg_stat_activity "
                        "WHERE query LIKE '%long-statement%' AND state = 'active' "
                        "AND pid <> pg_backend_pid()"
                    )
                )
            assert running == 0
            # the connection is usable again: the pool was not poisoned
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
        finally:
            with contextlib.suppress(Exception):
                await engine.dispose()
            await observer.dispose()
