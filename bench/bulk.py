"""FHIR Bulk Data export on PostgreSQL: the registry's `$export` job beside a bare dump of the
same rows as JSON lines, at two registry sizes to show whether memory grows with it.

One run per size (BENCH_BULK_SIZES, default "2000,10000" patients of the synthetic registry,
tests/factories/synthetic.py): a fresh database, the export job run in this process
(app.ingestion.fhir.bulk.run, as the API's background job runs it) into a temporary folder,
then the bare baseline: one streamed SELECT per table (patients, procedures with their levels,
follow-up events) written as JSON lines, no mapping. Reported: seconds, patients per second, and
how far the process's resident memory rose during each (sampled every 20 ms), which stays flat
across sizes when memory does not grow with the registry. Issue 19 asks for 10k patients
within 2 minutes.
"""

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.config import get_settings
from app.ingestion.fhir import bulk
from app.models import BulkExport
from app.models.base import new_id
from bench import loadgen
from bench.runner import Result
from bench.serving import fresh_database

SIZES = [int(n) for n in os.environ.get("BENCH_BULK_SIZES", "2000,10000").split(",")]
TABLES = ("patients", "procedures", "levels_treated", "follow_up_events")


def _rss_mb() -> float:
    """This process's resident memory (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


async def _measured(work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(seconds, how far resident memory rose above its level at the start, MB) of `work`,
    sampled every 20 ms beside it."""
    start = peak = _rss_mb()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mb())
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    try:
        await work()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        await sampler
    return seconds, max(peak, _rss_mb()) - start


async def _one_size(patients: int) -> list[Result]:
    async with fresh_database("bulk") as url:
        await loadgen.populate(url, patients)
        engine = create_async_engine(url)
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        with tempfile.TemporaryDirectory() as folder:
            get_settings().bulk_export_dir = Path(folder)
            async with sessionmaker() as session:
                job = BulkExport(
                    id=new_id(), credential_id=new_id(), sees_identifiers=True, level="system",
                    request="bench", types=list(bulk.EXPORT_TYPES), status="running",
                )  # fmt: skip
                session.add(job)
                await session.commit()
                job_id = job.id

            async def export() -> None:
                await bulk.run(sessionmaker, job_id)

            async def bare() -> None:
                async with engine.connect() as conn:
                    for table in TABLES:
                        out = Path(folder) / f"bare-{table}.ndjson"
                        with out.open("w") as handle:
                            rows = await conn.stream(text(f"SELECT * FROM {table}"))
                            async for row in rows:
                                handle.write(json.dumps(dict(row._mapping), default=str) + "\n")

            export_s, export_mb = await _measured(export)
            bare_s, bare_mb = await _measured(bare)
            async with sessionmaker() as session:
                done = await session.get(BulkExport, job_id)
                assert done is not None and done.status == "done", done and done.error
                written = {o["type"]: o["count"] for o in done.output or []}
        await engine.dispose()
    note = ", ".join(f"{k} {v:,}" for k, v in written.items())
    return [
        Result(
            "bulk", f"$export, {patients:,} patients", throughput=round(patients / export_s, 1),
            baseline="bare dump", ratio=round(bare_s / export_s, 3),
            note=f"{export_s:.1f} s, RSS +{export_mb:.1f} MB; {note}",
        ),
        Result(
            "bulk", f"bare dump, {patients:,} patients", throughput=round(patients / bare_s, 1),
            note=f"{bare_s:.1f} s, RSS +{bare_mb:.1f} MB",
        ),
    ]  # fmt: skip


async def run() -> list[Result]:
    results: list[Result] = []
    for size in SIZES:
        results += await _one_size(size)
    return results
