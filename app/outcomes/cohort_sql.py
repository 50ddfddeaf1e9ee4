"""The cohort's rows in the per-episode summary, and how the statistics' statements run
(app.outcomes.queries builds the aggregates over them)."""

import asyncio
import functools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement

from app.clinical.days import UTC_NAME, day_start
from app.clinical.dialect import Dialect
from app.models import OutcomeEpisode
from app.outcomes.cohort import AGE_RANGES, Cohort


class Runner:
    """Runs the read-only aggregate statements of one request.

    PostgreSQL: each statement on its own pooled connection (at most `parallel` at once), in
    a transaction with JIT off (compiling these wide statements costs more than running them)
    and a larger work_mem, set in one round trip; SQLite: one after another on the request's
    connection.
    """

    def __init__(
        self,
        conn: AsyncConnection,
        engine: AsyncEngine | None = None,
        *,
        parallel: int = 1,
        work_mem_mb: int = 64,
        split: int = 2,
        time_zone: str = UTC_NAME,
    ) -> None:
        self.conn = conn
        self.dialect = Dialect(conn.dialect.name, time_zone)
        self.engine = engine if self.dialect.postgres and parallel > 1 else None
        self.slots = asyncio.Semaphore(max(1, parallel))
        self.work_mem_mb = int(work_mem_mb)
        self.split = max(1, split) if self.engine is not None else 1
        self.lock = asyncio.Lock()

    async def rows(self, statement: Executable) -> list[tuple[Any, ...]]:
        if self.engine is None:
            async with self.lock:
                return [tuple(row) for row in await self.conn.execute(statement)]
        async with self.slots, self.engine.connect() as conn:
            # one round trip for the settings (local to this transaction); the request's
            # statements already run side by side: no parallel workers on top. A custom plan
            # each time: after five executions a prepared statement switches to a generic plan,
            # which evaluates the cohort's parameters (the kinds' array, the clock's cutoffs)
            # for every row: about 5 % slower at 100k patients, for < 1 ms of planning saved
            await conn.execute(
                text(
                    "SELECT set_config('jit', 'off', true),"
                    f" set_config('work_mem', '{self.work_mem_mb}MB', true),"
                    " set_config('max_parallel_workers_per_gather', '0', true),"
                    " set_config('plan_cache_mode', 'force_custom_plan', true)"
                )
            )
            return [tuple(row) for row in await conn.execute(statement)]


e = OutcomeEpisode.__table__


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch, as the summary stores them (exact integer arithmetic)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def cohort_filter(cohort: Cohort, time_zone: str) -> list[ColumnElement[bool]]:
    """The cohort's rows; its dates are clinical days (the registry's time zone)."""

    def day_start_us(day: date) -> int:
        return to_us(day_start(day, time_zone))

    where: list[ColumnElement[bool]] = []
    if cohort.histology_groups:
        where.append(e.c.histology_group.in_(sorted(set(cohort.histology_groups))))
    if cohort.age_bands:
        bands = []
        for band in cohort.age_bands:
            low, high = AGE_RANGES[band]
            bands.append(e.c.age >= low if high is None else e.c.age.between(low, high))
        where.append(or_(*bands))
    if cohort.sex:
        where.append(e.c.sex.in_(cohort.sex))
    if cohort.kinds:
        where.append(e.c.kind.in_(cohort.kinds))
    if cohort.indications:
        where.append(e.c.indication.in_(cohort.indications))
    if cohort.performed_from:
        where.append(e.c.first_us >= day_start_us(cohort.performed_from))
    if cohort.performed_to and cohort.performed_to < date.max:  # date.max: no bound
        where.append(e.c.first_us < day_start_us(cohort.performed_to + timedelta(days=1)))
    if cohort.regions:
        where.append(or_(*(e.c[region] == True for region in cohort.regions)))  # noqa: E712
    if cohort.levels_min is not None:
        where.append(e.c.max_levels >= cohort.levels_min)
    if cohort.levels_max is not None:
        where.append(e.c.max_levels <= cohort.levels_max)
    if cohort.staged is not None:
        where.append(e.c.staged == cohort.staged)
    if cohort.repeat is not None:
        where.append(e.c.has_repeat == cohort.repeat)
    return where


@functools.lru_cache(maxsize=64)
def episodes(cohort: Cohort, time_zone: str) -> Any:
    """The cohort's summary rows as a subquery: built once per cohort (an immutable
    construct; its ~160 columns' collection takes milliseconds to build)."""
    return select(e).where(*cohort_filter(cohort, time_zone)).subquery("cohort")
