"""Aggregate SQL over the per-episode summary: counts and distributions (the cohort's rows and
the statement runner are app.outcomes.cohort_sql's).

Per grain, every count, n, mean, SD and (PostgreSQL) quartiles of a response come from two
SELECTs side by side on their own connections, each scanning the cohort once and computing
half of the counts (in consecutive blocks) and half of the distributions (dealt alternately).
The cost is per row and per aggregate, so each distribution is two aggregates: its moments
(`outcome_moments`, migration 0008: n, sum and squared deviations in one transition, the state
avg and stddev_samp share) and its quartiles (`percentile_cont(ARRAY[...]) WITHIN GROUP`, one
sort: the costliest part); distinct counts run beside them. SQLite has no ordered-set
aggregates: one SELECT (count, avg, sum of squares), then each distribution's quartiles from a
`row_number()` window over its values, one statement after another. Python only ever receives
aggregated rows.
"""

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    case,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.sql.elements import ColumnElement

from app.outcomes.cohort_sql import Runner

QUARTILES = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Count:
    """count(*) of the rows where `where` holds; or count(DISTINCT distinct); or sum(total);
    or, without SQL, `difference` (key a minus key b), the n of the distribution `measure`, or
    `given` by another statement.
    `where` always describes the rows counted (the patient counts use it)."""

    key: str
    where: ColumnElement[bool] | None = None
    distinct: Any = None
    total: Any = None
    difference: tuple[str, str] | None = None
    measure: str | None = None
    bound: Any = None  # the most one patient can add to it (default: the grain's bound)
    patients_of: str | None = None  # comes from the same patients as that count
    # `total` is never negative and `where` is `total > 0`: summed over every row, no test
    positive: bool = False
    given: bool = False  # computed elsewhere (Sheet.give), e.g. from Kaplan-Meier rows

    @property
    def in_sql(self) -> bool:
        return self.difference is None and self.measure is None and not self.given


@dataclass(frozen=True)
class Measure:
    key: str
    value: ColumnElement[Any]
    where: ColumnElement[bool] | None = None

    @property
    def expr(self) -> ColumnElement[Any]:
        """The value where it counts, NULL elsewhere (aggregates skip NULLs)."""
        if self.where is None:
            return self.value
        return case((self.where, self.value))


@dataclass(frozen=True)
class DistributionStats:
    """n, mean, SD and quartiles of a measure as computed (its API form is
    app.outcomes.schemas.Distribution, suppressed and rounded)."""

    n: int
    mean: float | None = None
    sd: float | None = None
    q1: float | None = None
    median: float | None = None
    q3: float | None = None


@dataclass
class Aggregate:
    counts: dict[str, int]
    distributions: dict[str, DistributionStats]
    bound: int  # the most rows one patient has in this group (1 if unknown)
    bounds: dict[str, int] = field(default_factory=dict)  # per count with its own bound


def _count_expr(c: Count) -> ColumnElement[Any]:
    if c.total is not None:
        summed = c.total if c.where is None or c.positive else case((c.where, c.total))
        return func.coalesce(func.sum(summed), 0)
    if c.distinct is not None:
        inner = c.distinct if c.where is None else case((c.where, c.distinct))
        return func.count(func.distinct(inner))
    if c.where is None:
        return func.count()
    return func.count().filter(c.where)


def _interpolate(n: int, p: float, first: float | None, second: float | None) -> float | None:
    """percentile_cont: first + (pos - floor(pos)) * (second - first), pos = p * (n - 1)."""
    if n == 0 or first is None or second is None:
        return None
    pos = p * (n - 1)
    fraction = pos - math.floor(pos)
    if fraction == 0:
        return float(first)
    return float(first + fraction * (second - first))


def sample_sd(n: int, mean: float | None, sumsq: float | None) -> float | None:
    """The sample SD from n, the mean and the sum of squares (SQLite has no stddev)."""
    if n < 2 or mean is None or sumsq is None:
        return None
    variance = (sumsq - n * mean * mean) / (n - 1)
    return math.sqrt(max(variance, 0.0))


async def aggregate(
    run: Runner,
    source: Any,
    counts: Sequence[Count],
    measures: Sequence[Measure],
    *,
    bound: Any = None,
    group: ColumnElement[Any] | None = None,
    together: bool = False,
    bounds: bool = True,
) -> dict[Any, Aggregate]:
    """Every count and distribution, per group. Keys: the group's value (None without
    `group`). `together`: one statement (when the source is costly to compute twice).
    `bounds`: compute the bounds (rows per patient) too; only the suppression reads them."""
    postgres = run.dialect.postgres
    g = (group if group is not None else literal(None)).label("g")
    sql_counts = [c for c in counts if c.in_sql]
    apart = postgres and not together  # distinct counts in a statement of their own
    direct = [c for c in sql_counts if c.distinct is None or not apart]
    distinct = [c for c in sql_counts if c.distinct is not None and apart]
    bounded = [c for c in direct if c.bound is not None and bounds]
    bound = bound if bounds else None
    # one row of every aggregate: the bound, the counts, their bounds, each measure's
    # moments (PostgreSQL: one outcome_moments; SQLite: count, avg, sum of squares), then each
    # measure's quartiles (PostgreSQL)
    columns: list[ColumnElement[Any]] = [
        func.max(bound) if bound is not None else literal(1),
        *(_count_expr(c) for c in direct),
        *(func.max(c.bound) for c in bounded),
    ]
    for m in measures:
        x = m.expr
        if postgres:
            columns.append(func.outcome_moments(x))
        else:
            columns += [func.count(x), func.avg(x), func.sum(x * x)]
    if postgres:
        columns += [func.percentile_cont(array(QUARTILES)).within_group(m.expr) for m in measures]
    # each statement scans the source once; side by side, `run.split` statements of about
    # equal cost (the counts in consecutive blocks, the measures dealt in turn) keep as many
    # cores busy. Grouped, quartiles make PostgreSQL sort the rows by group: the counts go apart
    ways = run.split if postgres and not together and measures else 1
    width = 1 if postgres else 3
    parts = _deal(
        len(direct) + len(bounded), len(measures), width, postgres, ways, group is not None
    )
    parts = [part for part in parts if part]  # more ways than figures
    statements = [
        _grouped(select(g, *(columns[i] for i in part)).select_from(source), group)
        for part in parts
    ]
    if distinct:
        distinct_columns = [g, *(_count_expr(c) for c in distinct)]
        statements.append(_grouped(select(*distinct_columns).select_from(source), group))
    found = await asyncio.gather(*(run.rows(s) for s in statements))
    out = _results(parts, found, len(columns), direct, bounded, measures, postgres)
    if distinct:
        for row in found[-1]:
            if row[0] in out:
                for c, value in zip(distinct, row[1:], strict=True):
                    out[row[0]].counts[c.key] = int(value or 0)
    if not postgres and measures and out:
        await _sqlite_quartiles(run, source, measures, group, out)
    return out


def _results(
    parts: Sequence[Sequence[int]],
    found: Sequence[Sequence[tuple[Any, ...]]],
    n_columns: int,
    direct: Sequence[Count],
    bounded: Sequence[Count],
    measures: Sequence[Measure],
    postgres: bool,
) -> dict[Any, Aggregate]:
    """aggregate()'s row per group, merged from its statements' parts, read back."""
    width = 1 if postgres else 3
    rows: dict[Any, list[Any]] = {}
    for part, part_rows in zip(parts, found, strict=False):
        for row in part_rows:
            merged = rows.setdefault(row[0], [None] * n_columns)
            for i, value in zip(part, row[1:], strict=True):
                merged[i] = value
    out: dict[Any, Aggregate] = {}
    for key, values in rows.items():
        result = Aggregate({}, {}, int(values[0] or 1))
        i = 1
        for c in direct:
            result.counts[c.key] = int(values[i] or 0)
            i += 1
        for c in bounded:
            result.bounds[c.key] = int(values[i] or 1)
            i += 1
        for m in measures:
            if postgres:
                result.distributions[m.key] = _moments(values[i])
            else:
                n = int(values[i] or 0)
                mean = None if values[i + 1] is None else float(values[i + 1])
                sumsq = None if values[i + 2] is None else float(values[i + 2])
                result.distributions[m.key] = DistributionStats(n, mean, sample_sd(n, mean, sumsq))
            i += width
        if postgres:
            _set_quartiles(result, measures, [list(q or (None,) * 3) for q in values[i:]])
        out[key] = result
    return out


def _moments(state: Sequence[float] | None) -> DistributionStats:
    """n, mean and SD from outcome_moments' {N, Sx, Sxx} (float8_accum's state), by the same
    operations as PostgreSQL's avg (Sx / N) and stddev_samp (sqrt(Sxx / (N - 1)))."""
    if not state or not state[0]:
        return DistributionStats(0)
    n, sx, sxx = (float(v) for v in state)
    sd = math.sqrt(sxx / (n - 1.0)) if n > 1.0 else None
    return DistributionStats(int(n), sx / n, sd)


def _deal(
    n_counts: int,
    n_measures: int,
    width: int,
    quartiles: bool,
    ways: int,
    counts_apart: bool = False,
) -> list[list[int]]:
    """The positions of aggregate()'s row each statement computes: the bound in the first;
    the counts in consecutive blocks (counts declared together, which may read a joined
    source the other statements then leave out, stay together) and the measures (`width`
    columns of moments, with their quartiles) dealt alternately; or the counts in the first
    and the measures in the other."""
    parts: list[list[int]] = [[0]] + [[] for _ in range(ways - 1)]
    for i in range(n_counts):
        parts[0 if counts_apart else i * ways // max(n_counts, 1)].append(1 + i)
    first_moment = 1 + n_counts
    first_quartile = first_moment + width * n_measures
    for j in range(n_measures):
        own = parts[ways - 1 if counts_apart else (n_counts + j) % ways]
        own += [first_moment + width * j + k for k in range(width)]
        if quartiles:
            own.append(first_quartile + j)
    return parts


def _grouped(query: Any, group: ColumnElement[Any] | None) -> Any:
    return query if group is None else query.group_by(group)


def _set_quartiles(
    agg: Aggregate, measures: Sequence[Measure], quartiles: Sequence[Sequence[float | None]]
) -> None:
    for m, (q1, median, q3) in zip(measures, quartiles, strict=True):
        dist = agg.distributions[m.key]
        agg.distributions[m.key] = DistributionStats(dist.n, dist.mean, dist.sd, q1, median, q3)


def _quartiles(ordered: Sequence[float]) -> list[float | None]:
    """percentile_cont's quartiles of values in ascending order."""
    n = len(ordered)
    picks: list[float | None] = []
    for p in QUARTILES:
        if n == 0:
            picks.append(None)
            continue
        pos = (n - 1) * p
        low = int(pos)
        high = low + (1 if pos > low else 0)
        picks.append(_interpolate(n, p, ordered[low], ordered[high]))
    return picks


async def _sqlite_quartiles(
    run: Runner,
    source: Any,
    measures: Sequence[Measure],
    group: ColumnElement[Any] | None,
    out: dict[Any, Aggregate],
) -> None:
    """SQLite has no percentile_cont: every measure's values are read in one statement and
    their quartiles interpolated here as percentile_cont does (a statement per measure, each
    recomputing the source, made a dashboard of the seeded registry take most of a second)."""
    if not measures:
        return
    g = group if group is not None else literal(None)
    query = select(g.label("g"), *(m.expr.label(f"v{i}") for i, m in enumerate(measures)))
    values: dict[Any, list[list[float]]] = {}
    for row in await run.rows(query.select_from(source)):
        lists = values.setdefault(row[0], [[] for _ in measures])
        for found, value in zip(lists, row[1:], strict=True):
            if value is not None:
                found.append(value)
    for key, lists in values.items():
        if key in out:
            _set_quartiles(out[key], measures, [_quartiles(sorted(v)) for v in lists])


def _only_where(value: Any, where: ColumnElement[bool] | None) -> Any:
    return value if where is None else case((where, value))


async def distinct_patients(
    run: Runner,
    source: Any,
    patient: Any,
    conditions: Mapping[str, ColumnElement[bool] | None],
    *,
    group: ColumnElement[Any] | None = None,
) -> dict[Any, dict[str, int]]:
    """Exactly how many patients each condition's rows come from (per group)."""
    if not conditions:
        return {}
    keys = list(conditions)
    columns = [func.count(func.distinct(_only_where(patient, conditions[k]))) for k in keys]
    g = group if group is not None else literal(None)
    query = select(g, *columns).select_from(source)
    if group is not None:
        query = query.group_by(group)
    out: dict[Any, dict[str, int]] = {}
    for row in await run.rows(query):
        out[row[0]] = {k: int(v or 0) for k, v in zip(keys, row[1:], strict=True)}
    return out
