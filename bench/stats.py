"""GET /api/v1/stats/outcomes on PostgreSQL at 1k, 10k and 100k patients.

Each size gets a fresh database (created and dropped here, migrated with `alembic upgrade
heads`) filled with the seeded synthetic registry (tests/factories/synthetic.py, about 10 follow-up
events per episode), bulk-inserted through SQLAlchemy Core. Then, in the same run:

- build summary: the full rebuild after the load (what the first read after a migration, or a
  change of the clinical settings, pays);
- raw SQL (summary): the headline numbers (patients, episodes, sessions, baseline pain, day-14
  pain, clinical success at 2 weeks) as one SELECT over the summary, no HTTP;
- raw SQL (base tables): the same headline numbers computed from procedures, levels and
  follow-up events directly (episodes, their end, the baseline and the score nearest day 14 by
  LATERAL subqueries), i.e. what each request would cost without the summary;
- outcomes: the whole request through the ASGI app (authentication, audit row, summary check,
  aggregates, suppression, JSON), uncached, with a stats:research key (exact) and a stats:read
  key (suppressed: adds the patient counts and the suppression), unfiltered and with a
  selective filter (one histology group, paediatric, first sessions in a 3-year range);
- pain-trajectory (weekly) and breakdown (by histology group), uncached;
- outcomes cached: repeated reads with nothing written in between;
- outcomes after a write: one follow-up inserted before each request (that patient is
  recomputed, the cache is bypassed).

Each request case is measured after 10 warm-up requests (every pooled connection has then
prepared the statements once: the steady state of a running service).

Environment: BENCH_DATABASE_URL (a PostgreSQL server; default the local one),
BENCH_STATS_SIZES (default "1000,10000,100000"), BENCH_STATS_REQUESTS (default 20),
BENCH_STATS_KEEP_DB (a name: each size's database is `<name>_<size>`, filled only when it is
still empty, migrated to the head every run and kept afterwards, to iterate on it with psql;
drop it yourself when done).
"""

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from httpx import ASGITransport, AsyncClient
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.cli import alembic_config
from bench.runner import Result, summarise
from tests.factories.synthetic import EVENT_COLUMNS, chunks, insert_registry

SERVER = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SIZES = [int(s) for s in os.environ.get("BENCH_STATS_SIZES", "1000,10000,100000").split(",")]
REQUESTS = int(os.environ.get("BENCH_STATS_REQUESTS", "20"))
KEEP_DB = os.environ.get("BENCH_STATS_KEEP_DB", "")
WARMUP = 10
OUTCOMES = "/api/v1/stats/outcomes"
TRAJECTORY = "/api/v1/stats/pain-trajectory"
BREAKDOWN = "/api/v1/stats/breakdown"
SELECTIVE = {
    "histology": "VIII",  # malignant bone tumours: Ewing sarcoma and osteosarcoma
    "age_band": "paediatric",
    "performed_from": "2018-01-01",
    "performed_to": "2020-12-31",
}

HEADLINE_SUMMARY = """
SELECT count(DISTINCT patient_id), count(*), sum(n_sessions),
       avg(pain_base), percentile_cont(0.5) WITHIN GROUP (ORDER BY pain_base),
       avg(pain_d14), percentile_cont(0.5) WITHIN GROUP (ORDER BY pain_d14),
       count(*) FILTER (WHERE pain_base IS NOT NULL AND pain_d14 IS NOT NULL
                          AND (pain_base - pain_d14 >= 2
                               OR (pain_base > 0 AND (pain_base - pain_d14) / pain_base >= 0.3))),
       count(*) FILTER (WHERE pain_base IS NOT NULL AND pain_d14 IS NOT NULL)
FROM outcome_episodes WHERE kind IN ('vertebroplasty', 'kyphoplasty')
"""

HEADLINE_BASE_TABLES = """
WITH ep AS (
    SELECT coalesce(series_id, id) AS ekey, patient_id, min(performed_at) AS first_at,
           max(performed_at) AS t0, count(*) AS n_sessions,
           (array_agg(kind ORDER BY performed_at, id))[1] AS kind
    FROM procedures GROUP BY coalesce(series_id, id), patient_id
)
SELECT count(DISTINCT ep.patient_id), count(*), sum(ep.n_sessions),
       avg(b.score), percentile_cont(0.5) WITHIN GROUP (ORDER BY b.score),
       avg(s.score), percentile_cont(0.5) WITHIN GROUP (ORDER BY s.score),
       count(*) FILTER (WHERE b.score - s.score >= 2
                          OR (b.score > 0 AND (b.score - s.score) / b.score >= 0.3)),
       count(*) FILTER (WHERE b.score IS NOT NULL AND s.score IS NOT NULL)
FROM ep
LEFT JOIN LATERAL (
    SELECT min(q.performed_at) AS ended_at
    FROM procedures mine
    JOIN levels_treated l ON l.procedure_id = mine.id
    JOIN levels_treated lq ON lq.level = l.level
    JOIN procedures q ON q.id = lq.procedure_id
    WHERE (mine.series_id = ep.ekey OR mine.id = ep.ekey)
      AND q.patient_id = ep.patient_id AND q.performed_at > ep.t0
      AND coalesce(q.series_id, q.id) <> ep.ekey
) e ON true
LEFT JOIN LATERAL (
    SELECT f.score FROM follow_up_events f
    WHERE f.patient_id = ep.patient_id AND f.kind = 'pain' AND coalesce(f.site, 'back') = 'back'
      AND f.score IS NOT NULL
      AND f.occurred_at >= ep.first_at - interval '30 days' AND f.occurred_at < ep.first_at
    ORDER BY f.occurred_at DESC, f.id DESC LIMIT 1
) b ON true
LEFT JOIN LATERAL (
    SELECT f.score FROM follow_up_events f
    WHERE f.patient_id = ep.patient_id AND f.kind = 'pain' AND coalesce(f.site, 'back') = 'back'
      AND f.score IS NOT NULL
      AND f.occurred_at BETWEEN ep.t0 + interval '10 days' AND ep.t0 + interval '18 days'
      AND f.occurred_at > ep.t0 AND (e.ended_at IS NULL OR f.occurred_at < e.ended_at)
    ORDER BY abs(extract(epoch FROM f.occurred_at - (ep.t0 + interval '14 days'))),
             f.occurred_at, f.id
    LIMIT 1
) s ON true
WHERE ep.kind IN ('vertebroplasty', 'kyphoplasty')
"""


async def _admin(sql: str) -> None:
    admin = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(sql))
    await admin.dispose()


async def _existing(engine: AsyncEngine) -> dict[str, int] | None:
    """The totals of a kept database that is already filled (None: it is empty)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(DISTINCT coalesce(series_id, id)) FROM procedures), "
                    "(SELECT count(*) FROM procedures), (SELECT count(*) FROM levels_treated), "
                    "(SELECT count(*) FROM follow_up_events)"
                )
            )
        ).one()
    if not row[1]:
        return None
    return dict(zip(("episodes", "procedures", "levels", "events"), row, strict=True))


async def _populate(engine: AsyncEngine, patients: int) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    if (totals := await _existing(engine)) is not None:
        return 0.0, totals
    totals = {"episodes": 0, "procedures": 0, "levels": 0, "events": 0}
    for block in chunks(patients, seed=6):
        async with engine.begin() as conn:
            await insert_registry(conn, block)
        totals["procedures"] += len(block.procedures)
        totals["levels"] += len(block.levels)
        totals["events"] += len(block.events)
        totals["episodes"] += len({p["series_id"] or p["id"] for p in block.procedures})
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started, totals


async def _timed(action: Callable[[], Awaitable[Any]], times: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        await action()
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _point(engine_url: str) -> None:
    """Point the app's settings and engine at the benchmark database."""
    os.environ["DATABASE_URL"] = engine_url
    os.environ.setdefault("RATE_LIMIT_PER_MINUTE", "10000000")
    os.environ.setdefault("RATE_LIMIT_BURST", "10000000")
    os.environ.setdefault("TRIGGERS_SCHEDULER_ENABLED", "false")
    os.environ.setdefault("NOTIFICATIONS_WORKER_ENABLED", "false")
    from app.config import get_settings
    from app.db import get_engine, get_sessionmaker

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


async def _key(scopes: list[str]) -> str:
    from app.auth import service as auth_service
    from app.db import get_sessionmaker

    async with get_sessionmaker()() as session:
        _row, key = await auth_service.create_key(session, name="bench", scopes=scopes)
        await session.commit()
    return key


def _result(case: str, samples: list[float], **extra: Any) -> Result:
    stats = summarise(samples)
    return Result(
        "stats",
        case,
        p50_ms=stats["p50_ms"],
        p95_ms=stats["p95_ms"],
        p99_ms=stats["p99_ms"],
        **extra,
    )


async def _one_size(patients: int) -> list[Result]:
    name = f"{KEEP_DB}_{patients}" if KEEP_DB else f"vertebro_bench_stats_{uuid.uuid4().hex[:8]}"
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    if not KEEP_DB or not await _exists(name):
        await _admin(f'CREATE DATABASE "{name}"')
    engine = create_async_engine(url)  # no statement timeout: the rebuild is measured whole
    label = f"{patients:,} patients"
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "heads")
        fill_s, totals = await _populate(engine, patients)
        _point(url)
        from app.clinical.definitions import Definitions
        from app.config import get_settings
        from app.db import get_engine
        from app.main import create_app
        from app.outcomes import summary

        settings = get_settings()
        started = time.perf_counter()
        async with engine.begin() as conn:  # a full rebuild, whatever the summary's state
            await summary.refresh(conn, Definitions.from_settings(settings), full=True)
        build_s = time.perf_counter() - started
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        keys = {"exact": await _key(["stats:research"]), "suppressed": await _key(["stats:read"])}
        results: list[Result] = []
        note = (
            f"{totals['episodes']:,} episodes, {totals['procedures']:,} sessions, "
            f"{totals['levels']:,} levels, {totals['events']:,} follow-up events"
        )
        results.append(
            Result(
                "stats",
                f"build summary, {label}",
                p50_ms=round(build_s * 1000, 1),
                note=f"{note}; "
                + (f"generated and inserted in {fill_s:.1f} s" if fill_s else "kept database"),
            )
        )
        raw = await _timed(lambda: _sql(engine, HEADLINE_SUMMARY), REQUESTS)
        raw_p50 = statistics.median(raw)
        results.append(_result(f"raw SQL headline (summary), {label}", raw))
        base_runs = 3 if patients <= 10_000 else 1
        base = await _timed(lambda: _sql(engine, HEADLINE_BASE_TABLES), base_runs, warmup=0)
        results.append(
            _result(
                f"raw SQL headline (base tables), {label}",
                base,
                note=f"{base_runs} run(s): the cost without the summary",
            )
        )
        app = create_app()
        # the app's lifespan as uvicorn runs it (garbage-collection tuning included; the
        # sweep and the webhook worker are off, see _point); ASGITransport alone skips it
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client,
        ):
            settings.stats_cache_ttl_s = 0.0  # every request computes
            for case, scope, params in (
                ("exact, unfiltered", "exact", {}),
                ("exact, selective filter", "exact", SELECTIVE),
                ("suppressed, unfiltered", "suppressed", {}),
                ("suppressed, selective filter", "suppressed", SELECTIVE),
            ):
                samples, episodes = await _requests(client, keys[scope], OUTCOMES, params)
                results.append(
                    _result(
                        f"outcomes {case}, {label}",
                        samples,
                        throughput=round(1000 / statistics.median(samples), 1),
                        baseline="raw SQL headline (summary)",
                        ratio=round(statistics.median(samples) / raw_p50, 2),
                        note=f"uncached; {episodes:,} episodes in the cohort",
                    )
                )
            for url, params, what in (
                (TRAJECTORY, {"unit": "week"}, "pain-trajectory weekly"),
                (BREAKDOWN, {"by": "histology"}, "breakdown by histology"),
            ):
                samples, _ = await _requests(client, keys["exact"], url, params)
                results.append(_result(f"{what}, {label}", samples, note="uncached"))
            settings.stats_cache_ttl_s = 60.0
            samples, _ = await _requests(client, keys["exact"], OUTCOMES, {})
            results.append(
                _result(
                    f"outcomes exact, unfiltered, cached, {label}",
                    samples,
                    note="repeated reads, no write in between",
                )
            )
            after = await _after_write(engine, client, keys["exact"])
            results.append(
                _result(
                    f"outcomes after a write, {label}",
                    after,
                    note="a follow-up inserted before each request: that patient recomputed, "
                    "the cache bypassed",
                )
            )
        await get_engine().dispose()
        return results
    finally:
        await engine.dispose()
        if not KEEP_DB:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _exists(name: str) -> bool:
    admin = create_async_engine(SERVER)
    async with admin.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
        )
    await admin.dispose()
    return bool(found)


async def _sql(engine: AsyncEngine, sql: str) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SET work_mem = '64MB'"))
        (await conn.execute(text(sql))).all()


async def _requests(
    client: AsyncClient, key: str, url: str, params: dict[str, str]
) -> tuple[list[float], int]:
    headers = {"Authorization": f"Bearer {key}"}
    episodes = 0

    async def once() -> None:
        nonlocal episodes
        response = await client.get(url, params=params, headers=headers)
        response.raise_for_status()
        if url == OUTCOMES:
            episodes = response.json()["counts"]["episodes"]["value"] or 0

    # a steady state: every pooled connection has prepared the statements once
    return await _timed(once, REQUESTS, warmup=WARMUP), episodes


async def _after_write(engine: AsyncEngine, client: AsyncClient, key: str) -> list[float]:
    from app.models import FollowUpEvent

    async with engine.connect() as conn:
        patient_ids = [
            row[0]
            for row in await conn.execute(text("SELECT id FROM patients ORDER BY id LIMIT 50"))
        ]
    samples = []
    headers = {"Authorization": f"Bearer {key}"}
    for i in range(min(REQUESTS, len(patient_ids))):
        row: dict[str, Any] = dict.fromkeys(EVENT_COLUMNS)
        now = datetime.now(UTC) - timedelta(days=1)
        row.update(
            id=uuid.uuid4(), patient_id=patient_ids[i], kind="pain", occurred_at=now,
            scale="nrs11", value=3, score=3.0, site="back", created_at=now, updated_at=now,
            version=1,
        )  # fmt: skip
        async with engine.begin() as conn:
            await conn.execute(insert(FollowUpEvent), [row])
        started = time.perf_counter()
        response = await client.get(OUTCOMES, headers=headers)
        response.raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def run() -> list[Result]:
    results: list[Result] = []
    for size in SIZES:
        results.extend(await _one_size(size))
    return results
