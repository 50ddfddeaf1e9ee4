"""Real concurrency: many requests at once through the app (each with its own database
connection from the pool), and a real uvicorn server with several HTTP clients. Afterwards
the counts are exact: every event stored once, whatever the interleaving."""

import asyncio
import os
import random
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import EventLog, FollowUpEvent, Patient, PatientIdentifier, Procedure
from tests.conftest import DATABASE_URL, make_api_key
from tests.ingestion.helpers import EVENTS, count, event, pain, post, procedure

ROOT = Path(__file__).resolve().parents[2]


async def test_identical_events_at_once_have_exactly_one_effect(client: AsyncClient) -> None:
    body = procedure("p1", "OR-7", ["T7", "T12"])
    responses = await asyncio.gather(*(post(client, body) for _ in range(20)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 200: 19}, [r.text for r in responses if r.status_code >= 400]
    assert len({str(r.json()["ids"]) for r in responses}) == 1
    assert await count(Procedure) == 1 and await count(EventLog) == 1
    assert await count(Patient) == 1


async def test_different_events_for_one_new_patient_at_once(client: AsyncClient) -> None:
    bodies = [
        pain(f"e{i}", i % 11, at=f"2019-02-{1 + i:02d}T10:00:00Z", mrn="NEW") for i in range(20)
    ]
    responses = await asyncio.gather(*(post(client, b) for b in bodies))
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    assert len({r.json()["ids"]["patient_id"] for r in responses}) == 1
    assert await count(Patient) == 1 and await count(PatientIdentifier) == 1
    assert await count(FollowUpEvent) == 20


def _stream() -> list[dict[str, Any]]:
    """60 events for 6 new patients: registration, a procedure, pain scores (some before the
    procedure they name), a complication."""
    events: list[dict[str, Any]] = []
    for p in range(6):
        mrn = f"MRN-{p}"
        events.append(event("patient.registered", f"r{p}", {"sex": "female"}, mrn=mrn))
        events.append(procedure(f"p{p}", f"OR-{p}", ["T7", "L3"], mrn=mrn))
        complication = {"procedure_ref": f"OR-{p}", "kind": "pain_flare", "symptomatic": True}
        events.append(event("complication.reported", f"c{p}", complication, mrn=mrn))
        for s in range(7):
            at = f"2019-02-{13 + s:02d}T10:00:00Z"
            events.append(pain(f"s{p}-{s}", s, at=at, mrn=mrn, data={"procedure_ref": f"OR-{p}"}))
    return events


async def _check_exact(results: list[dict[str, Any]], total: int) -> None:
    created = Counter(r["event_id"] for r in results if r["status"] == "created")
    assert all(r["status"] in ("created", "replayed") for r in results), [
        r["problem"] for r in results if r["status"] == "rejected"
    ]
    assert len(created) == total and set(created.values()) == {1}  # each created exactly once
    assert await count(EventLog) == total
    assert await count(Patient) == 6 and await count(Procedure) == 6
    assert await count(FollowUpEvent) == 42
    assert await count(FollowUpEvent, FollowUpEvent.procedure_id.is_(None)) == 0  # all linked
    assert await count(EventLog, EventLog.status != "applied") == 0


async def test_twenty_clients_posting_overlapping_batches(client: AsyncClient) -> None:
    stream = _stream()
    batches = []
    for c in range(20):
        window = [stream[(c * 7 + i) % len(stream)] for i in range(30)]
        random.Random(c).shuffle(window)
        batches.append({"events": window})
    batches.append({"events": stream})  # so that every event is in some batch
    responses = await asyncio.gather(*(post(client, b) for b in batches))
    assert [r.status_code for r in responses] == [200] * len(batches)
    await _check_exact([r for resp in responses for r in resp.json()["results"]], len(stream))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def _server() -> AsyncIterator[str]:
    """The app in a real uvicorn process on 127.0.0.1, on the test database."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "ENVIRONMENT": "test",
        "TRIGGERS_SCHEDULER_ENABLED": "false",
        "NOTIFICATIONS_WORKER_ENABLED": "false",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as probe:
            for _ in range(1200):  # up to a minute: a loaded CI machine starts Python slowly
                try:
                    if (await probe.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("the server did not start")
        yield base
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)


async def test_a_real_server_and_several_clients(client: AsyncClient) -> None:
    key = await make_api_key("events:write", name="test: server")
    stream = _stream()
    async with _server() as base:

        async def one_client(c: int) -> list[dict[str, Any]]:
            rng = random.Random(c)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
                results = []
                for _ in range(3):  # singles and batches, each client its own connection
                    window = rng.sample(stream, 12)
                    response = await http.post(EVENTS, json={"events": window})
                    assert response.status_code == 200, response.text
                    results += response.json()["results"]
                    single = await http.post(EVENTS, json=rng.choice(stream))
                    assert single.status_code in (200, 201, 202), single.text
                    results.append(single.json())
                response = await http.post(EVENTS, json={"events": stream})
                final: list[dict[str, Any]] = response.json()["results"]
                return results + final

        per_client = await asyncio.gather(*(one_client(c) for c in range(8)))
    await _check_exact([r for results in per_client for r in results], len(stream))


async def test_a_concurrent_trigger_evaluation_is_retried_not_fatal(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that does not take the patient lock (a clinician's transition of a trigger)
    may commit the same patient's trigger first (StaleDataError on flush): the evaluation is
    done again, patient by patient, and the batch stands."""
    from sqlalchemy.orm.exc import StaleDataError

    from app.triggers import marks
    from app.triggers.evaluation import apply_plans as real

    calls = {"n": 0}

    async def conflicting_once(
        session: AsyncSession, plans: Iterable[Any], now: datetime
    ) -> list[Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StaleDataError("a concurrent request changed the trigger meanwhile")
        return list(await real(session, plans, now))

    monkeypatch.setattr(marks, "apply_plans", conflicting_once)  # not the database
    events = [
        procedure("p1", "OR-1", ["L3"]),
        pain("b", 8, at="2019-02-05T10:00:00Z"),
        pain("s1", 2, at="2019-02-19T10:00:00Z"),  # improved
        pain("s2", 7, at="2019-03-01T10:00:00Z"),  # worsened: rule B
    ]
    body = (await post(client, {"events": events})).json()
    assert body["created"] == 4, body
    assert calls["n"] == 1  # the failed attempt; the retry re-planned and applied on its own
    triggers = (await client.get("/api/v1/imaging-triggers")).json()["items"]
    assert [t["rule"] for t in triggers] == ["worsening"]
