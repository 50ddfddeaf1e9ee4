"""The time-based imaging-trigger sweep on PostgreSQL at 10k, 100k and 1M procedures.

Each size gets a fresh database (created and dropped here, migrated with `alembic upgrade
heads`) filled with set-based SQL (generate_series): patients with two procedures each (one
patient in 20 has a two-stage series a week apart instead), 1-2 levels per procedure, and 3-4
back-pain scores per procedure (a baseline, days 5, 10 and 60) whose values give every
day-14 outcome. Then:

- cold: the first sweep, when every episode is due and undecided (the worst case);
- steady: the sweep again, when every episode is decided (what the scheduler runs every
  5 minutes): the cost of finding nothing to do;
- daily: the sweep after 0.1 % more procedures reach their day 14.

Environment: BENCH_DATABASE_URL (a PostgreSQL server; default the local one),
BENCH_SWEEP_SIZES (default "10000,100000,1000000").
"""

import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.cli import alembic_config
from app.triggers.evaluation import trigger_rules
from app.triggers.sweep import run_sweep
from bench.runner import Result

SERVER = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SIZES = [int(s) for s in os.environ.get("BENCH_SWEEP_SIZES", "10000,100000,1000000").split(",")]
NOW = datetime(2026, 1, 1, tzinfo=UTC)

GENERATE = [
    """CREATE TEMP TABLE bp AS
       SELECT g AS n, gen_random_uuid() AS id, gen_random_uuid() AS series
       FROM generate_series(1, :patients) AS g""",
    """INSERT INTO patients (id, sex, created_at, updated_at, version)
       SELECT id, 'unknown', now(), now(), 1 FROM bp""",
    """INSERT INTO procedure_series (id, patient_id, planned_sessions, created_at, updated_at)
       SELECT series, id, 2, now(), now() FROM bp WHERE n % 20 = 0""",
    """CREATE TEMP TABLE bproc AS
       SELECT gen_random_uuid() AS id, bp.id AS patient_id, bp.n, k,
              CASE WHEN bp.n % 20 = 0 THEN bp.series END AS series_id,
              CASE WHEN bp.n % 20 = 0 THEN k + 1 END AS stage_number,
              CASE WHEN (bp.n + k) % 20 = 7 THEN 'cryoablation'
                   WHEN (bp.n + k) % 20 = 3 THEN 'kyphoplasty' ELSE 'vertebroplasty' END AS kind,
              timestamptz '2019-01-01 09:00+00' + make_interval(days => (bp.n % 1500)
                  + k * CASE WHEN bp.n % 20 = 0 THEN 7 ELSE 200 END) AS performed_at
       FROM bp CROSS JOIN generate_series(0, 1) AS k""",
    """INSERT INTO procedures (id, patient_id, series_id, stage_number, kind, performed_at,
                               created_at, updated_at, version)
       SELECT id, patient_id, series_id, stage_number, kind, performed_at, now(), now(), 1
       FROM bproc""",
    """INSERT INTO levels_treated (id, procedure_id, level, position, is_variant,
                                   created_at, updated_at)
       SELECT gen_random_uuid(), p.id, lv.level, lv.position, false, now(), now()
       FROM bproc p
       JOIN LATERAL (VALUES (('T' || (1 + (p.n + p.k) % 12))::text, 8 + (p.n + p.k) % 12),
                            (('L' || (1 + p.n % 5))::text, 20 + p.n % 5)) AS lv(level, position)
         ON lv.position < 20 OR p.n % 3 = 0""",
    """INSERT INTO follow_up_events (id, patient_id, procedure_id, kind, occurred_at, scale,
                                     value, score, site, created_at, updated_at, version)
       SELECT gen_random_uuid(), p.patient_id, p.id, 'pain',
              p.performed_at + make_interval(days => d.day, hours => 1),
              'nrs11', d.score, d.score, 'back', now(), now(), 1
       FROM bproc p
       CROSS JOIN LATERAL (VALUES (-3, 7 + p.n % 3), (5, 3 + p.n % 6), (10, 4 + p.n % 5),
                                  (60, p.n % 11)) AS d(day, score)
       WHERE d.day <> 10 OR p.n % 4 <> 0""",
    "ANALYZE",
]


async def _admin(sql: str) -> None:
    admin = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(sql))
    await admin.dispose()


async def _populate(engine: AsyncEngine, procedures: int) -> float:
    started = time.perf_counter()
    async with engine.begin() as conn:
        for sql in GENERATE[:-1]:
            await conn.execute(text(sql), {"patients": procedures // 2})
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def _one_size(procedures: int) -> list[Result]:
    name = f"vertebro_bench_{uuid.uuid4().hex[:8]}"
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    await _admin(f'CREATE DATABASE "{name}"')
    engine = create_async_engine(url)  # no statement timeout: the cold case is measured whole
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "heads")
        fill_s = await _populate(engine, procedures)
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        rules = trigger_rules()
        label = f"{procedures:,} procedures"
        cold = await run_sweep(sessionmaker, rules, NOW)
        steady = [(await run_sweep(sessionmaker, rules, NOW)).seconds for _ in range(5)]
        # 0.1 % more procedures reach their day 14: generate them, then sweep
        async with engine.begin() as conn:
            extra = max(1, procedures // 1000)
            await conn.execute(
                text(
                    """INSERT INTO procedures (id, patient_id, kind, performed_at, created_at,
                                               updated_at, version)
                       SELECT gen_random_uuid(), id, 'vertebroplasty',
                              timestamptz '2025-12-01 09:00+00', now(), now(), 1
                       FROM patients LIMIT :extra"""
                ),
                {"extra": extra},
            )
        daily = await run_sweep(sessionmaker, rules, NOW)
        return [
            Result(
                "sweep",
                f"cold, {label}",
                throughput=round(cold.decided / cold.seconds, 1),
                p50_ms=round(cold.seconds * 1000, 1),
                note=f"decided {cold.decided:,}, opened {cold.fired:,}; "
                f"data generated in {fill_s:.1f} s",
            ),
            Result(
                "sweep",
                f"steady, {label}",
                p50_ms=round(statistics.median(steady) * 1000, 1),
                p95_ms=round(max(steady) * 1000, 1),
                note="every episode already decided (5 runs)",
            ),
            Result(
                "sweep",
                f"daily, {label}",
                p50_ms=round(daily.seconds * 1000, 1),
                note=f"{daily.decided:,} newly due episodes decided",
            ),
        ]
    finally:
        await engine.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run() -> list[Result]:
    results: list[Result] = []
    for size in SIZES:
        results.extend(await _one_size(size))
    return results
