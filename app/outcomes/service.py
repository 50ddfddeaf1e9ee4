"""Outcome statistics: bring the summary up to date, run the aggregates, suppress, assemble."""

import asyncio
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clinical.definitions import Definitions
from app.config import Settings, get_settings
from app.errors import RuleViolation
from app.models import ImagingTrigger
from app.outcomes import cohort_sql, disclosure_sql, query_space, schemas, series, summary
from app.outcomes.breakdown import Dimension, breakdown_sheet
from app.outcomes.cache import ResultCache
from app.outcomes.cohort import Cohort
from app.outcomes.definitions import fingerprint
from app.outcomes.disclosure import Noise
from app.outcomes.figure_keys import Counts
from app.outcomes.figures import OutcomeFigures
from app.outcomes.sheet import Sheet
from app.outcomes.suppression import Cell, Reason, suppress
from app.outcomes.trajectory import mean_ci

# the trajectory's buckets, in elapsed days since t0 (a month: 30 days)
UNIT_DAYS = {"day": 1, "week": 7, "month": 30}
CACHE = ResultCache()


def _engine(session: AsyncSession) -> AsyncEngine:
    bind = session.bind
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the statistics need a session bound to an AsyncEngine")
    return bind


async def ensure_current(engine: AsyncEngine, settings: Settings, *, full: bool = False) -> int:
    """Recompute the summary of every patient written since the last read (none: one cheap
    read). Its own transaction, so the figures that follow include every committed write.
    Returns the summary's generation. `full`: every patient (`vertebro stats refresh --full`)."""
    defs = Definitions.from_settings(settings)
    async with engine.connect() as conn:
        current, generation, latest = await summary.state_and_latest(conn, defs)
        if current and not full:
            return generation
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            timeout = int(settings.stats_refresh_timeout_ms)
            await conn.execute(text(f"SET LOCAL statement_timeout = {timeout}"))
        await summary.refresh(conn, defs, full=full, upto=latest)
        return (await summary.state(conn, defs))[1]


async def _triggers_version(session: AsyncSession) -> tuple[Any, ...]:
    """Changes whenever an imaging trigger is added, removed or updated (ORM writes bump
    version and updated_at). On the request's connection: one round trip."""
    it = ImagingTrigger.__table__
    row = (
        await session.execute(
            select(
                func.count(), func.coalesce(func.sum(it.c.version), 0), func.max(it.c.updated_at)
            )
        )
    ).one()
    return tuple(row)


async def _prepare(session: AsyncSession, settings: Settings) -> tuple[cohort_sql.Runner, int]:
    engine = _engine(session)
    generation = await ensure_current(engine, settings)
    conn = await session.connection()
    runner = cohort_sql.Runner(
        conn,
        engine,
        parallel=settings.stats_parallel_queries,
        work_mem_mb=settings.stats_work_mem_mb,
        split=settings.stats_scan_split,
        time_zone=settings.registry_time_zone,
    )
    return runner, generation


def _key(*parts: Hashable, settings: Settings) -> tuple[Hashable, ...]:
    defs = Definitions.from_settings(settings)
    return (*parts, fingerprint(defs), settings.stats_suppression_k)


def _check(cohort: Cohort, exact: bool, settings: Settings, extra: int = 0) -> None:
    if not exact:  # the query space of stats:read, for every caller (REST, web pages)
        query_space.check_read_scope(
            cohort, max_filters=settings.stats_read_max_filters, extra=extra
        )
    if (
        cohort.performed_from
        and cohort.performed_to
        and cohort.performed_from > cohort.performed_to
    ):
        raise RuleViolation("performed_to", "performed_to is before performed_from.")
    if (
        cohort.levels_min is not None
        and cohort.levels_max is not None
        and cohort.levels_min > cohort.levels_max
    ):
        raise RuleViolation("levels_max", "levels_max is below levels_min.")


async def _below_minimum(
    run: cohort_sql.Runner, cohort: Cohort, exact: bool, settings: Settings
) -> bool:
    """stats:read: whether the cohort is withheld whole, its patients perturbed (a cell-key
    draw, so the boundary is not sharp and a true 0 reads as a small count) below the minimum."""
    if exact:
        return False
    patients, key = await disclosure_sql.cohort_key(run, cohort)
    noise = Noise(settings.stats_noise_key())
    return noise.count("patients", key, patients) < settings.stats_min_patients


def _k(exact: bool, settings: Settings) -> int | None:
    return None if exact else settings.stats_suppression_k


async def outcome_stats(
    session: AsyncSession, cohort: Cohort, *, exact: bool, now: datetime | None = None
) -> schemas.OutcomeStats:
    settings = get_settings()
    _check(cohort, exact, settings)
    now = now or datetime.now(UTC)
    run, generation = await _prepare(session, settings)
    key = _key(
        "outcomes", cohort, exact, generation, await _triggers_version(session), settings=settings
    )
    if (hit := CACHE.get(key)) is not None:
        return cast(schemas.OutcomeStats, hit)
    sheet = Sheet(_k(exact, settings))
    figures = OutcomeFigures(
        cohort,
        Definitions.from_settings(settings),
        run.dialect,
        cohort_sql.to_us(now),
        sheet,
    )
    figures.declare()
    src = figures.src
    curves = {
        "recurrence": (src.c.recurrence_day, src.c.recurrence_event),
        "survival": (src.c.survival_day, src.c.survival_event),
    }
    _, km_rows, (patients, total, per_patient) = await asyncio.gather(
        sheet.aggregate(run),
        series.km_rows(run, src, curves),
        series.patients_and_vertebrae(run, cohort),
    )
    figures.give_km_counts(km_rows)
    await sheet.count_patients(run)
    sheet.put(Counts.patients, patients, patients)
    sheet.put(Counts.distinct_vertebrae, total, per_patient.n)
    sheet.put_distribution(Counts.vertebrae_per_patient, per_patient)
    sheet.finish()
    if await _below_minimum(run, cohort, exact, settings):
        shown = (key for key, cell in sheet.cells().items() if cell.shown)
        sheet.reasons = dict.fromkeys(shown, Reason.cohort_below_minimum)
    result = schemas.OutcomeStats(
        cohort=schemas.CohortRead.model_validate(cohort.describe()),
        generated_at=now,
        disclosure=sheet.disclosure(),
        **figures.render(),
    )
    CACHE.put(key, result, settings.stats_cache_ttl_s)
    return result


async def pain_trajectory(
    session: AsyncSession,
    cohort: Cohort,
    *,
    exact: bool,
    unit: str,
    max_day: int,
    now: datetime | None = None,
) -> schemas.TrajectoryRead:
    """Mean pain of each episode's target site per day (or week) since t0 with its 95 % CI
    (t distribution)."""
    settings = get_settings()
    _check(cohort, exact, settings)
    if not exact:
        query_space.check_read_unit(unit)
    now = now or datetime.now(UTC)
    run, generation = await _prepare(session, settings)
    key = _key("trajectory", cohort, exact, unit, max_day, generation, settings=settings)
    if (hit := CACHE.get(key)) is not None:
        return cast(schemas.TrajectoryRead, hit)
    k = _k(exact, settings)
    unit_days = UNIT_DAYS[unit]
    buckets = await series.trajectory(run, cohort, unit_days, max_day, patients=k is not None)
    found = {b.index: b for b in buckets}
    cells = {str(b.index): Cell(b.n, b.patients) for b in buckets}
    reasons = suppress(cells, [], k) if k is not None else {}
    if await _below_minimum(run, cohort, exact, settings):
        cells = {str(i): Cell() for i in range(max_day // unit_days + 1)}
        reasons = dict.fromkeys(cells, Reason.cohort_below_minimum)
    points = []
    for index in range(max_day // unit_days + 1):  # a regular grid: empty buckets with n = 0
        if (b := found.get(index)) is None:  # withheld alike when the cohort is
            out = reasons.get(str(index))
            points.append(schemas.TrajectoryPoint(
                start_day=index * unit_days, n=None if out else 0, mean=None, lower=None,
                upper=None, suppressed=out.value if out else None))  # fmt: skip
            continue
        reason = reasons.get(str(b.index))
        ci = mean_ci(b.n, b.mean, b.sd)
        shown = reason is None
        points.append(
            schemas.TrajectoryPoint(
                start_day=b.index * unit_days,
                n=b.n if shown else None,
                mean=b.mean if shown else None,
                lower=ci[0] if shown and ci else None,
                upper=ci[1] if shown and ci else None,
                suppressed=reason.value if reason else None,
            )
        )
    disclosure = Sheet(k)
    disclosure.reasons = {f"trajectory.{key}": r for key, r in reasons.items()}
    result = schemas.TrajectoryRead(
        cohort=schemas.CohortRead.model_validate(cohort.describe()),
        generated_at=now,
        disclosure=disclosure.disclosure(),
        unit=unit,
        points=points,
    )
    CACHE.put(key, result, settings.stats_cache_ttl_s)
    return result


async def breakdown(
    session: AsyncSession,
    cohort: Cohort,
    *,
    exact: bool,
    by: Dimension,
    now: datetime | None = None,
) -> schemas.BreakdownRead:
    settings = get_settings()
    _check(cohort, exact, settings, extra=1)  # `by` counts as a filter
    now = now or datetime.now(UTC)
    run, generation = await _prepare(session, settings)
    key = _key("breakdown", cohort, exact, by, generation, settings=settings)
    if (hit := CACHE.get(key)) is not None:
        return cast(schemas.BreakdownRead, hit)
    result: dict[str, Any] = await breakdown_sheet(
        run,
        cohort,
        cohort_sql.to_us(now),
        by,
        _k(exact, settings),
        withheld=await _below_minimum(run, cohort, exact, settings),
    )
    read = schemas.BreakdownRead(
        cohort=schemas.CohortRead.model_validate(cohort.describe()),
        generated_at=now,
        by=by.value,
        **result,
    )
    CACHE.put(key, read, settings.stats_cache_ttl_s)
    return read
