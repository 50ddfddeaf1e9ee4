"""Case retrieval on PostgreSQL: whole cases of random patients and the case list, under
concurrent clients, beside a bare FastAPI endpoint reading one row by primary key.

One run: a fresh database (created, migrated and dropped here) holding the synthetic registry
(tests/factories/synthetic.py: 1-3 episodes per patient, about 10 follow-up events each) of
BENCH_CASES_PATIENTS (1000) patients; the registry and the bare app (bench/bare_app.py, its
`GET /patients/{id}`: one SELECT by primary key through the same driver and server) each served
by uvicorn on 127.0.0.1 with BENCH_CASES_WORKERS (1) processes. BENCH_CASES_CLIENTS (8) aiohttp
clients read for BENCH_CASES_SECONDS (12) per case, split in BENCH_CASES_ROUNDS (3) turns
taken in round robin so that changes in the machine's load fall on every case alike. The
registry runs as deployed: API key, audit trail (one row per patient read).

Cases: the bare row; `GET /api/v1/cases/{id}` (patient, procedures with levels and work-up,
complications, episodes with baseline and trajectory, the timeline, triggers); `GET
/api/v1/cases` (first page of 50 summaries; and filtered by histology).
"""

import asyncio
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bench import loadgen
from bench.runner import Result, summarise
from bench.serving import api_key, fresh_database, serve

SECONDS = float(os.environ.get("BENCH_CASES_SECONDS", "12"))
ROUNDS = int(os.environ.get("BENCH_CASES_ROUNDS", "3"))
CLIENTS = int(os.environ.get("BENCH_CASES_CLIENTS", "8"))
PATIENTS = int(os.environ.get("BENCH_CASES_PATIENTS", "1000"))
WORKERS = int(os.environ.get("BENCH_CASES_WORKERS", "1"))


@dataclass
class Measure(loadgen.Tally):
    seconds: float = 0.0
    bytes: int = 0


async def _drive(
    base: str, headers: dict[str, str], path: Callable[[random.Random], str], tag: str, s: float
) -> Measure:
    """CLIENTS concurrent clients reading for `s` seconds (each finishes its last request)."""
    measure = Measure()

    async def client_loop(c: int, client: aiohttp.ClientSession) -> None:
        rng = random.Random(f"{tag}-{c}")
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                async with client.get(path(rng)) as response:
                    status, body = response.status, await response.read()
            except aiohttp.ClientError as exc:
                measure.requests += 1
                measure.error(f"{type(exc).__name__}: {exc}")
                continue
            measure.latencies_ms.append((time.perf_counter() - started) * 1000)
            measure.requests += 1
            measure.bytes += len(body)
            if status != 200:
                measure.error(f"{status} {body[:300].decode(errors='replace')}")

    # aiohttp, not httpx: its requests cost the clients (on the same cores) a tenth of the CPU
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        base_url=base, headers=headers, connector=connector, timeout=timeout
    ) as c:
        began = time.perf_counter()
        stop = began + s
        await asyncio.gather(*(client_loop(n, c) for n in range(CLIENTS)))
        measure.seconds = time.perf_counter() - began
    return measure


def _merge(into: Measure, part: Measure) -> None:
    into.requests += part.requests
    into.errors += part.errors
    into.latencies_ms += part.latencies_ms
    into.seconds += part.seconds
    into.bytes += part.bytes
    into.first_error = into.first_error or part.first_error


def _row(case: str, m: Measure, baseline: str | None = None, base: float | None = None) -> Result:
    rate = m.requests / m.seconds if m.seconds else 0.0
    note = f"{m.requests} requests in {m.seconds:.1f} s, {m.bytes / max(m.requests, 1):,.0f} B each"
    return Result(
        benchmark="cases",
        case=f"{case}, {CLIENTS} clients",
        throughput=round(rate, 1),
        **summarise(m.latencies_ms),
        baseline=baseline,
        ratio=round(rate / base, 2) if base else None,
        errors=m.errors,
        note=note + (f"; first error: {m.first_error}" if m.first_error else ""),
    )


async def run() -> list[Result]:
    async with fresh_database("cases") as url:
        population = await loadgen.populate(url, PATIENTS)
        ids = population.ids
        key = await api_key(url, ["cases:read"])
        headers = {"Authorization": f"Bearer {key}"}

        def one(prefix: str) -> Callable[[random.Random], str]:
            return lambda rng: f"{prefix}/{rng.choice(ids)}"

        load_before = loadgen.load_average()
        async with (
            serve("app.main:create_app", url, WORKERS, factory=True) as (app, _),
            serve("bench.bare_app:app", url, WORKERS) as (bare_app, _),
        ):
            phases: dict[str, tuple[str, dict[str, str], Callable[[random.Random], str]]] = {
                "bare": (bare_app, {}, one("/patients")),
                "case": (app, headers, one("/api/v1/cases")),
                "list": (app, headers, lambda _rng: "/api/v1/cases?limit=50"),
                "list histology": (
                    app, headers, lambda _rng: "/api/v1/cases?limit=50&histology=Ewing%20sarcoma"
                ),
            }  # fmt: skip
            for name, (base, auth, path) in phases.items():  # warm pools and code paths
                await _drive(base, auth, path, f"warm-{name}", 2.0)
            measured = {name: Measure() for name in phases}
            for round_ in range(ROUNDS):
                for name, (base, auth, path) in phases.items():
                    part = await _drive(base, auth, path, f"{name}-{round_}", SECONDS / ROUNDS)
                    _merge(measured[name], part)
        load_after = loadgen.load_average()
    bare = measured["bare"]
    bare_rate = bare.requests / bare.seconds if bare.seconds else None
    rows = [
        _row("bare SELECT by primary key", bare),
        _row("GET /cases/{id}: a whole case", measured["case"], "bare SELECT", bare_rate),
        _row("GET /cases: first page of 50", measured["list"], "bare SELECT", bare_rate),
        _row("GET /cases?histology=: 50", measured["list histology"], "bare SELECT", bare_rate),
    ]
    rows[0].note += (
        f"; {PATIENTS} patients, {WORKERS} worker(s) per app; "
        f"load average {load_before:.1f} before, {load_after:.1f} after"
    )
    return rows
