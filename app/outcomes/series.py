"""The statements that are not one row of aggregates: Kaplan-Meier rows per day, patients and
distinct vertebrae (grouped by patient), and the pain trajectory (grouped by day or week)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, case, cast, func, literal, select, true, union_all
from sqlalchemy.dialects.postgresql import BIT

from app.models.outcome import OutcomePainScore
from app.outcomes.cohort import Cohort
from app.outcomes.cohort_sql import Runner, episodes
from app.outcomes.queries import (
    Count,
    DistributionStats,
    Measure,
    aggregate,
    sample_sd,
)

ps = OutcomePainScore.__table__


async def km_rows(
    run: Runner, source: Any, curves: Mapping[str, tuple[Any, Any]]
) -> dict[str, list[tuple[int, int, int]]]:
    """Per curve (its day and event columns): (day, observations ending that day, events),
    for Kaplan-Meier estimates. PostgreSQL: one scan (GROUPING SETS); SQLite: UNION ALL."""
    names = list(curves)
    out: dict[str, list[tuple[int, int, int]]] = {name: [] for name in names}
    if run.dialect.postgres:
        days = [curves[n][0] for n in names]
        columns: list[Any] = [*days]
        columns += [func.grouping(day) for day in days]
        columns.append(func.count())
        columns += [func.sum(case((event == true(), 1), else_=0)) for _, event in curves.values()]
        query = select(*columns).select_from(source).group_by(func.grouping_sets(*days))
        width = len(names)
        for row in await run.rows(query):
            for i, name in enumerate(names):
                if row[width + i] == 0 and row[i] is not None:  # grouped by this curve's day
                    out[name].append(
                        (int(row[i]), int(row[2 * width]), int(row[2 * width + 1 + i] or 0))
                    )
        return out
    parts = [
        select(
            literal(name).label("curve"),
            day,
            func.count(),
            func.sum(case((event == true(), 1), else_=0)),
        )
        .select_from(source)
        .where(day.is_not(None))
        .group_by(day)
        for name, (day, event) in curves.items()
    ]
    for name, day_value, ended, events in await run.rows(union_all(*parts)):
        out[name].append((int(day_value), int(ended), int(events or 0)))
    return out


async def patients_and_vertebrae(run: Runner, cohort: Cohort) -> tuple[int, int, DistributionStats]:
    """How many patients the cohort has, and the distinct vertebrae treated per patient (with
    their sum over patients): the bits of the OR of the patient's episodes' level masks, one
    hashed grouping by patient. PostgreSQL has bit_or and bit_count, SQLite counts bit by
    bit."""
    source = episodes(cohort, run.dialect.time_zone)
    c = source.c
    bits: Any
    if run.dialect.postgres:
        bits = cast(func.bit_count(cast(func.bit_or(c.level_mask), BIT(64))), BigInteger)
    else:
        bits = sum(
            (func.max(c.level_mask.op(">>")(i).op("&")(1)) for i in range(1, 32)), literal(0)
        )
    per_patient = select(bits.label("v")).group_by(c.patient_id).subquery("per_patient")
    value = cast(per_patient.c.v, BigInteger)
    result = await aggregate(
        run,
        per_patient,
        [Count("patients"), Count("total", total=value)],
        [Measure("vertebrae", value, value > 0)],
        together=True,
    )
    agg = result.get(None)
    if agg is None:
        return 0, 0, DistributionStats(0)
    return agg.counts["patients"], agg.counts["total"], agg.distributions["vertebrae"]


@dataclass(frozen=True)
class Bucket:
    index: int  # days (or weeks) since t0: [index, index + 1) units after it
    n: int  # episodes with a score in it
    patients: int | None  # None: not counted (exact figures need no patient counts)
    mean: float
    sd: float | None


async def trajectory(
    run: Runner, cohort: Cohort, unit_days: int, max_day: int, *, patients: bool = True
) -> list[Bucket]:
    """Back-pain scores after t0 and inside the episode (the summary's outcome_pain_scores),
    averaged per episode and bucket, then across episodes. `patients`: count each bucket's
    patients too (only the suppression reads them; their DISTINCT makes PostgreSQL sort every
    episode's bucket, a quarter of the statement's time at 100k patients)."""
    source = episodes(cohort, run.dialect.time_zone)
    bucket = ps.c.day // literal(unit_days, Integer) if unit_days > 1 else ps.c.day
    keys = [ps.c.episode_key, *([ps.c.patient_id] if patients else [])]
    per_episode = (
        select(*keys, bucket.label("b"), func.avg(ps.c.score).label("v"))
        .join_from(source, ps, ps.c.episode_key == source.c.episode_key)
        .where(ps.c.day <= max_day)
        .group_by(*keys, bucket)
        .subquery("per_episode")
    )
    v = per_episode.c.v
    counted = func.count(func.distinct(per_episode.c.patient_id)) if patients else literal(None)
    query = (
        select(per_episode.c.b, func.count(), counted, func.avg(v), func.sum(v * v))
        .group_by(per_episode.c.b)
        .order_by(per_episode.c.b)
    )
    buckets = []
    for b, n, found, mean, sumsq in await run.rows(query):
        average = float(mean)
        spread = sample_sd(int(n), average, None if sumsq is None else float(sumsq))
        buckets.append(
            Bucket(int(b), int(n), None if found is None else int(found), average, spread)
        )
    return buckets
