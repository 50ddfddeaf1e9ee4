"""A sheet: the figures of one response, from their SQL definition to their suppressed rendering.

Figures are declared per grain (the rows they count: episodes, level treatments,
complications, imaging triggers), computed by one aggregate query per grain, given their
patient counts (exact, or a lower bound when that already reaches k), passed through the pure
suppression, and read back as response objects.
"""

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

from app.outcomes import cohort_sql, queries, schemas
from app.outcomes.suppression import EXPLANATIONS, Cell, Reason, Sum, suppress


class UnknownFigure(LookupError):
    """A figure read by a key no declaration made (a misspelt key): an error, never a cell
    published without its suppression decision."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no figure is declared as {key!r}")
        self.key = key


@dataclass
class Grain:
    source: Any
    patient: Any  # the patient id column of the source
    bound: Any = None  # rows per patient (an upper bound), None: always count patients exactly
    counts: list[queries.Count] = field(default_factory=list)
    measures: list[queries.Measure] = field(default_factory=list)


@dataclass
class Sheet:
    k: int | None  # None: exact figures
    grains: dict[str, Grain] = field(default_factory=dict)
    values: dict[str, int] = field(default_factory=dict)
    distributions: dict[str, queries.DistributionStats] = field(default_factory=dict)
    patients: dict[str, int] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    stats: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    sums: list[Sum] = field(default_factory=list)
    reasons: dict[str, Reason] = field(default_factory=dict)
    aggregates: list[queries.Aggregate] = field(default_factory=list)  # per grain, in order

    # --- declaring -------------------------------------------------------------------------
    def grain(self, name: str, source: Any, patient: Any, bound: Any = None) -> None:
        self.grains[name] = Grain(source, patient, bound)

    def count(
        self,
        grain: str,
        key: str,
        where: ColumnElement[bool] | None = None,
        *,
        hidden: bool = False,
        distinct: Any = None,
        total: Any = None,
        difference: tuple[str, str] | None = None,
        measure: str | None = None,
        bound: Any = None,
        patients_of: str | None = None,
        positive: bool = False,
        given: bool = False,
    ) -> str:
        spec = queries.Count(
            key, where, distinct, total, difference, measure, bound, patients_of, positive, given
        )
        self.grains[grain].counts.append(spec)
        if hidden:
            self.hidden.add(key)
        return key

    def measure(
        self, grain: str, key: str, value: ColumnElement[Any], where: ColumnElement[bool] | None
    ) -> str:
        """A distribution; its n is the count `key.n` and it is published from >= k patients."""
        present = value.is_not(None) if where is None else and_(where, value.is_not(None))
        self.count(grain, f"{key}.n", present, measure=key)
        self.grains[grain].measures.append(queries.Measure(key, value, where))
        self.stat(key, f"{key}.n")
        return key

    def stat(self, key: str, patients_of: str, depends_on: tuple[str, ...] = ()) -> str:
        """A statistic computed from the rows of the count `patients_of`."""
        self.stats[key] = (patients_of, depends_on)
        return key

    def add_sum(self, total: str, parts: Sequence[str]) -> None:
        self.sums.append(Sum(total, tuple(parts)))

    # --- computing -------------------------------------------------------------------------
    async def aggregate(self, run: cohort_sql.Runner) -> None:
        """Every grain's aggregates (concurrently where the runner allows); then the `given`
        counts are put (`give`), then `count_patients`."""
        grains = list(self.grains.values())
        results = await asyncio.gather(
            *(
                queries.aggregate(
                    run,
                    g.source,
                    g.counts,
                    g.measures,
                    bound=g.bound,
                    bounds=self.k is not None,
                )
                for g in grains
            )
        )
        for grain, result in zip(grains, results, strict=True):
            agg = result.get(None) or queries.Aggregate({}, {}, 1)
            self.aggregates.append(agg)
            self.distributions.update(agg.distributions)
            for c in grain.counts:
                if c.measure is not None:
                    self.values[c.key] = self.distributions[c.measure].n
                elif c.in_sql:
                    self.values[c.key] = agg.counts.get(c.key, 0)

    def give(self, key: str, value: int) -> None:
        """The value of a count declared `given`."""
        self.values[key] = value

    async def count_patients(self, run: cohort_sql.Runner) -> None:
        """The differences, then the patient counts the suppression needs."""
        grains = list(self.grains.values())
        for grain in grains:
            for c in grain.counts:
                if c.difference is not None:
                    a, b = c.difference
                    self.values[c.key] = self.values[a] - self.values[b]
        if self.k is not None:
            await asyncio.gather(
                *(self._patients(run, g, a) for g, a in zip(grains, self.aggregates, strict=True))
            )

    def finish(self) -> None:
        """Decide the suppression, once every figure is in."""
        if self.k is not None:
            self._borrowed_patients()
            self.reasons = suppress(self.cells(), self.sums, self.k)

    async def _patients(self, run: cohort_sql.Runner, grain: Grain, agg: queries.Aggregate) -> None:
        """How many patients each count comes from, as far as the suppression needs to know:
        only whether it is 0, below k or at least k. Below k: the count itself (the patients
        are between 1 and it); at least k by a lower bound (the count over the most one
        patient can contribute): that bound; else, exactly, by SQL."""
        assert self.k is not None
        exact: dict[str, ColumnElement[bool] | None] = {}
        for c in grain.counts:
            value = self.values[c.key]
            bound = agg.bounds.get(c.key, agg.bound) if grain.bound is not None else None
            if c.patients_of is not None:
                continue
            if c.distinct is not None and c.distinct is grain.patient and c.where is None:
                self.patients[c.key] = value  # it counts patients
            elif value < self.k:
                self.patients[c.key] = value  # 0, or 1..k-1 patients whatever the exact
            elif bound is not None and math.ceil(value / bound) >= self.k:
                self.patients[c.key] = math.ceil(value / bound)  # enough, whatever the exact
            else:
                exact[c.key] = c.where
        if exact:
            found = await queries.distinct_patients(run, grain.source, grain.patient, exact)
            self.patients.update(found.get(None, dict.fromkeys(exact, 0)))

    def _borrowed_patients(self) -> None:
        for grain in self.grains.values():
            for c in grain.counts:
                if c.patients_of is not None:
                    self.patients[c.key] = self.patients.get(c.patients_of, 0)

    def cells(self) -> dict[str, Cell]:
        cells = {
            key: Cell(value, self.patients.get(key), shown=key not in self.hidden)
            for key, value in self.values.items()
        }
        for key, (patients_of, depends_on) in self.stats.items():
            cells[key] = Cell(None, self.patients.get(patients_of), depends_on)
        return cells

    # --- reading ---------------------------------------------------------------------------
    def declared(self, key: str) -> str:
        """The key, if a count, a statistic or a distribution was declared (or put) by it;
        else UnknownFigure."""
        if key in self.values or key in self.stats or key in self.distributions:
            return key
        raise UnknownFigure(key)

    def why(self, *keys: str) -> str | None:
        """Why the first of these figures that is suppressed is (None: none is); every key
        must be declared."""
        for key in keys:
            if self.declared(key) in self.reasons:
                return self.reasons[key].value
        return None

    def value(self, key: str) -> int | None:
        return None if self.declared(key) in self.reasons else self.values[key]

    def figure(self, key: str) -> schemas.Figure:
        return schemas.Figure(value=self.value(key), suppressed=self.why(key))

    def ratio(self, n: str, denominator: str) -> str:
        """Declare n / denominator: suppressed with either, or from < k patients."""
        return self.stat(f"{n}/{denominator}", denominator, (n, denominator))

    def put(self, key: str, value: int, patients: int) -> None:
        """A count computed outside the grains' queries."""
        self.values[key] = value
        self.patients[key] = patients

    def put_distribution(self, key: str, dist: queries.DistributionStats) -> None:
        """A distribution over patients, computed outside the grains' queries."""
        self.distributions[key] = dist
        self.put(f"{key}.n", dist.n, dist.n)
        self.stat(key, f"{key}.n")

    def rate(self, n: str, denominator: str) -> schemas.Rate:
        key = f"{n}/{denominator}"
        if key not in self.stats:
            raise UnknownFigure(key)  # declare the ratio before computing
        num, den = self.values[n], self.values[denominator]
        proportion = None if key in self.reasons or not den else num / den
        return schemas.Rate(
            n=self.value(n),
            denominator=self.value(denominator),
            proportion=proportion,
            suppressed=self.why(n, denominator, key),
        )

    def distribution(self, key: str, denominator: str) -> schemas.Distribution:
        dist = self.distributions[self.declared(key)]
        shown = key not in self.reasons
        return schemas.Distribution(
            n=self.value(f"{key}.n"),
            denominator=self.value(denominator),
            mean=dist.mean if shown else None,
            sd=dist.sd if shown else None,
            median=dist.median if shown else None,
            q1=dist.q1 if shown else None,
            q3=dist.q3 if shown else None,
            suppressed=self.why(key, f"{key}.n"),
        )

    def disclosure(self) -> schemas.Disclosure:
        return schemas.Disclosure(
            exact=self.k is None,
            k=self.k,
            suppressed=[
                schemas.SuppressedCell(cell=key, reason=r.value, explanation=EXPLANATIONS[r])
                for key, r in sorted(self.reasons.items())
            ],
        )
