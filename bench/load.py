"""The mixed load on PostgreSQL: ingestion, case reads and statistics at once, for minutes,
against the API served by uvicorn with several worker processes.

A fresh database (created, migrated and dropped here) holds the synthetic registry
(tests/factories/synthetic.py) of BENCH_LOAD_PATIENTS (1000) patients, each with an MRN. One uvicorn
serves it with `--workers` BENCH_LOAD_WORKERS (2). BENCH_LOAD_CLIENTS (16) concurrent
clients on 127.0.0.1 (bench/loadgen.py) then mix single events and batches of 20 (pain
scores and medications; about one post in five is sent twice at once, as a retrying
integration engine would), whole cases of random patients and the outcome statistics, for
BENCH_LOAD_WARMUP_SECONDS (15, not measured) and then BENCH_LOAD_SECONDS (180). The server
processes' resident memory is sampled every 2 s. Afterwards the event log and the follow-up
table are counted against the events the clients were told were stored: each acknowledged
event exactly once, and nothing else.
"""

import asyncio
import os

from rich.console import Console

from bench import loadgen
from bench.runner import Result, summarise
from bench.serving import api_key, fresh_database, serve

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "180"))
WARMUP = float(os.environ.get("BENCH_LOAD_WARMUP_SECONDS", "15"))
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "16"))
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "2"))
PATIENTS = int(os.environ.get("BENCH_LOAD_PATIENTS", "1000"))
SCOPES = ["events:write", "cases:read", "stats:read"]


def _rows(phase: loadgen.Phase, label: str) -> list[Result]:
    rows = []
    for endpoint, t in sorted(phase.tallies.items()):
        note = f"{t.requests} requests in {phase.seconds:.0f} s"
        if endpoint.startswith("POST"):
            note += (
                f"; {t.events / phase.seconds:.1f} events/s created, "
                f"{t.replays} duplicates answered as replays"
            )
        if t.first_error:
            note += f"; first error: {t.first_error}"
        rows.append(
            Result(
                benchmark="load",
                case=f"{endpoint}, {label}",
                throughput=round(t.requests / phase.seconds, 1),
                **summarise(t.latencies_ms),
                baseline=None,  # explicit, or mypy matches the percentiles to it
                errors=t.errors,
                note=note,
            )
        )
    return rows


async def run() -> list[Result]:
    async with fresh_database("load") as url:
        patients = await loadgen.populate(url, PATIENTS)
        key = await api_key(url, SCOPES)
        follow_ups_before = await loadgen.follow_up_count(url)
        load_before = loadgen.load_average()
        async with serve("app.main:create_app", url, WORKERS, factory=True) as (base, process):
            load = loadgen.Load(base, key, patients, CLIENTS)
            memory = loadgen.Memory(process.pid)
            stop = asyncio.Event()
            watcher = asyncio.create_task(memory.watch(stop))
            try:
                await load.run(WARMUP, "warm")
                memory.mark_start()
                measured = await load.run(SECONDS, "load")
                memory.sample()
                memory_note = memory.summary()  # while the processes still exist
            finally:
                stop.set()
                await watcher
        load_after = loadgen.load_average()
        counts = await loadgen.count(url, load.ledger, follow_ups_before)
    label = f"{CLIENTS} clients, {WORKERS} workers"
    rows = _rows(measured, label)
    everything = measured.tallies.values()
    requests = sum(t.requests for t in everything)
    events = sum(t.events for t in everything)
    exact = "exact" if counts.exact else "NOT EXACT"
    rows.append(
        Result(
            benchmark="load",
            case=f"events stored exactly once, {label}",
            throughput=round(events / measured.seconds, 1),
            errors=0 if counts.exact else 1,
            note=f"{exact}: {counts}; uncertain (no answer): {len(load.ledger.uncertain)}",
        )
    )
    rows.append(
        Result(
            benchmark="load",
            case=f"all endpoints, {label}",
            throughput=round(requests / measured.seconds, 1),
            **summarise([ms for t in everything for ms in t.latencies_ms]),
            baseline=None,
            errors=sum(t.errors for t in everything),
            note=f"{memory_note}; {PATIENTS} patients; load average "
            f"{load_before:.1f} before, {load_after:.1f} after",
        )
    )
    console = Console()
    console.print(f"[bold]load[/]: {exact}: {counts}")
    console.print(f"[bold]load[/]: {memory_note}")
    return rows
