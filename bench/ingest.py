"""EHR event ingestion on PostgreSQL: single events and batches of 100 and 1000, under
concurrent clients, beside a bare FastAPI endpoint doing one INSERT per request.

One run: a fresh database (created here, migrated with `alembic upgrade heads`, dropped at
the end); the registry, the bare app (bench/bare_app.py) and the registry's floor (the app
plus an authenticated, audited no-op route: bench/floor_app.py) each served by uvicorn on
127.0.0.1 with the same settings; aiohttp clients on loopback, each phase bounded in time.
The registry runs as deployed: API-key authentication, the audit trail, the event log, the
REST validation and, for pain scores, the imaging-trigger evaluation. Patients are registered
first, each with a procedure (a realistic stream is about known, treated patients); then
pain scores (which re-evaluate the imaging triggers) and medications (which do not) arrive,
one per request and in batches. Afterwards the event log is counted against the events the
clients were told were created.

Environment: BENCH_DATABASE_URL (a PostgreSQL server; default the local one),
BENCH_INGEST_SECONDS (per phase, default 12, split in BENCH_INGEST_ROUNDS=3 turns taken in
round robin so that changes in the machine's load fall on every phase alike),
BENCH_INGEST_CLIENTS (default 8), BENCH_INGEST_PATIENTS (default 2000),
BENCH_INGEST_WORKERS (uvicorn processes, default 1).
"""

import asyncio
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.models import EventLog
from bench.runner import Result, summarise
from bench.serving import api_key, fresh_database, serve

SECONDS = float(os.environ.get("BENCH_INGEST_SECONDS", "12"))
CLIENTS = int(os.environ.get("BENCH_INGEST_CLIENTS", "8"))
PATIENTS = int(os.environ.get("BENCH_INGEST_PATIENTS", "2000"))
WORKERS = int(os.environ.get("BENCH_INGEST_WORKERS", "1"))
ROUNDS = int(os.environ.get("BENCH_INGEST_ROUNDS", "3"))
SOURCE = "urn:bench:ehr"
MRN = "urn:bench:mrn"
START = datetime(2019, 1, 1, tzinfo=UTC)


@dataclass
class Measure:
    requests: int = 0
    events: int = 0  # events the server says it created
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str = ""

    def merge(self, other: "Measure") -> None:
        self.requests += other.requests
        self.events += other.events
        self.errors += other.errors
        self.seconds += other.seconds
        self.latencies_ms += other.latencies_ms
        self.first_error = self.first_error or other.first_error

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _event(type_: str, event_id: str, n: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "event_id": event_id,
        "type": type_,
        "occurred_at": (START + timedelta(minutes=n)).isoformat(),
        "patient": {"system": MRN, "value": f"MRN-{n % PATIENTS}"},
        "data": data,
    }


def pain(event_id: str, rng: random.Random) -> dict[str, Any]:
    n = rng.randrange(1_000_000)
    return _event("pain.scored", event_id, n, {"scale": "nrs11", "value": rng.randrange(11)})


def medication(event_id: str, rng: random.Random) -> dict[str, Any]:
    n = rng.randrange(1_000_000)
    data = {"drug": "morphine", "dose": 10, "dose_unit": "mg", "route": "oral", "doses_per_day": 2}
    return _event("medication.recorded", event_id, n, data)


async def _drive(
    url: str,
    headers: dict[str, str],
    make: Callable[[str, random.Random], dict[str, Any]],
    tag: str,
    per_request: int,
    clients: int,
    seconds: float,
) -> Measure:
    """`clients` concurrent clients posting for `seconds` (each finishes its last request)."""
    measure = Measure()
    headers = {**headers, "content-type": "application/json"}

    async def client_loop(c: int, client: aiohttp.ClientSession) -> None:
        rng = random.Random(f"{tag}-{c}")
        n = 0
        while time.perf_counter() < stop:
            events = [make(f"{tag}-{c}-{n + i}", rng) for i in range(per_request)]
            n += per_request
            body = json.dumps(events[0] if per_request == 1 else {"events": events}).encode()
            started = time.perf_counter()
            async with client.post(url, data=body, headers=headers) as response:
                status, text = response.status, await response.text()
            measure.latencies_ms.append((time.perf_counter() - started) * 1000)
            measure.requests += 1
            if status not in (200, 201):
                measure.errors += 1
                measure.first_error = measure.first_error or f"{status} {text[:160]}"
                continue
            answer = json.loads(text)
            if "results" in answer:  # a batch
                measure.events += answer["created"]
                measure.errors += answer["rejected"]
                rejected = [r["problem"] for r in answer["results"] if r["status"] == "rejected"]
                if rejected and not measure.first_error:
                    measure.first_error = str(rejected[0])[:160]
            elif "status" in answer:  # one event
                measure.events += answer["status"] == "created"
            else:  # the bare endpoint
                measure.events += 1

    # aiohttp, not httpx: a client request costs ~0.25 ms of CPU instead of ~2 ms, so the
    # clients (on the same 2 cores) no longer set the pace of the fast endpoints
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        began = time.perf_counter()
        stop = began + seconds
        await asyncio.gather(*(client_loop(c, client) for c in range(clients)))
        measure.seconds = time.perf_counter() - began
    return measure


async def _register_patients(base: str, headers: dict[str, str]) -> None:
    """Every patient registered, with one vertebroplasty (this registry's patients have one)."""
    async with httpx.AsyncClient(base_url=base, timeout=300, headers=headers) as client:
        for start in range(0, PATIENTS, 500):
            events = []
            for n in range(start, min(start + 500, PATIENTS)):
                patient = {"system": MRN, "value": f"MRN-{n}"}
                events.append(
                    {
                        "source": SOURCE,
                        "event_id": f"register-{n}",
                        "type": "patient.registered",
                        "occurred_at": START.isoformat(),
                        "patient": patient,
                        "data": {"birth_date": "2005-03-14", "sex": "female"},
                    }
                )
                events.append(
                    {
                        "source": SOURCE,
                        "event_id": f"procedure-{n}",
                        "type": "procedure.performed",
                        "occurred_at": (START + timedelta(days=n % 300)).isoformat(),
                        "patient": patient,
                        "data": {
                            "procedure_ref": f"OR-{n}",
                            "kind": "vertebroplasty",
                            "levels": [{"level": "T7"}, {"level": "T12"}],
                        },
                    }
                )
            response = await client.post("/api/v1/events", json={"events": events})
            response.raise_for_status()
            assert response.json()["rejected"] == 0, response.text


def _row(case: str, m: Measure, baseline: str | None = None, base: float | None = None) -> Result:
    return Result(
        benchmark="ingest",
        case=case,
        throughput=round(m.events_per_s, 1),
        **summarise(m.latencies_ms),
        baseline=baseline,
        ratio=round(m.events_per_s / base, 2) if base else None,
        errors=m.errors,
        note=f"{m.requests} requests, {m.events} events in {m.seconds:.1f} s"
        + (f"; first error: {m.first_error}" if m.first_error else ""),
    )


async def run() -> list[Result]:
    async with fresh_database("ingest") as url:
        return await _measure(url)


async def _measure(url: str) -> list[Result]:
    key = await api_key(url, ["events:write"])
    headers = {"Authorization": f"Bearer {key}"}
    load_before = os.getloadavg()[0]
    async with (
        serve("app.main:create_app", url, WORKERS, factory=True) as (app, _),
        serve("bench.bare_app:app", url, WORKERS) as (bare, _),
        serve("bench.floor_app:create_app", url, WORKERS, factory=True) as (floor, _),
    ):
        await _register_patients(app, headers)
        events = f"{app}/api/v1/events"
        # warm both servers (connection pools, code paths) before measuring
        await _drive(f"{bare}/events", {}, pain, "warm-bare", 1, CLIENTS, 1.0)
        warm = [
            await _drive(events, headers, make, f"warm-{make.__name__}-{k}", k, CLIENTS, 1.0)
            for make in (pain, medication)
            for k in (1, 100)
        ]
        await _drive(f"{floor}/bench/noop", headers, pain, "warm-floor", 1, CLIENTS, 1.0)
        # the phases take turns, ROUNDS times, so that a change in the machine's load
        # falls on all of them alike
        phases: dict[tuple[str, int], tuple[str, dict[str, str], Any, int]] = {
            ("bare", 1): (f"{bare}/events", {}, pain, 1),
            ("noop", 1): (f"{floor}/bench/noop", headers, pain, 1),
        }
        for make in (pain, medication):
            for size in (1, 100, 1000):
                phases[(make.__name__, size)] = (events, headers, make, size)
        measured = {phase: Measure() for phase in phases}
        for round_ in range(ROUNDS):
            for phase, (target, auth, make, size) in phases.items():
                tag = f"{phase[0]}-{size}-r{round_}"
                part = await _drive(target, auth, make, tag, size, CLIENTS, SECONDS / ROUNDS)
                measured[phase].merge(part)
        bare_single, noop = measured.pop(("bare", 1)), measured.pop(("noop", 1))
    load_after = os.getloadavg()[0]
    engine = create_async_engine(url)
    async with async_sessionmaker(engine)() as session:
        logged = await session.scalar(
            select(func.count())
            .select_from(EventLog)
            .where(EventLog.type.in_(("pain.scored", "medication.recorded")))
        )
    await engine.dispose()
    told = sum(m.events for m in (*warm, *measured.values()))  # the no-op logs nothing
    c = f"{CLIENTS} clients"
    bare_eps = bare_single.events_per_s or None
    rows = [
        _row(f"bare INSERT endpoint, 1 event/request, {c}", bare_single),
        _row(f"registry no-op POST (auth, audit, session), {c}", noop, "bare INSERT", bare_eps),
    ]
    for name, label in (("pain", "pain.scored"), ("medication", "medication.recorded")):
        single = measured[(name, 1)]
        rows.append(_row(f"{label}: single events, {c}", single, "bare INSERT", bare_eps))
        for size in (100, 1000):
            batch = measured[(name, size)]
            row = _row(
                f"{label}: batches of {size}, {c}",
                batch,
                f"{label} single",
                single.events_per_s,
            )
            if bare_eps:
                row.note += f"; {batch.events_per_s / bare_eps:.2f}x the bare INSERT"
            rows.append(row)
    exact = "exact" if logged == told else f"OFF BY {(logged or 0) - told}"
    rows[0].note += (
        f"; load average {load_before:.1f} before, {load_after:.1f} after; "
        f"event log vs events acknowledged: {exact}"
    )
    return rows
