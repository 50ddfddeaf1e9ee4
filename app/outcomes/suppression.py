"""Small-cell suppression for published aggregates (pure; no database, no HTTP).

A figure is a *cell*: a count (how many episodes, levels, complications, ...) or a statistic (a
mean, median, survival estimate, ...) with the number of patients it comes from. For a caller
that may only see suppressed figures:

1. primary: a count between 1 and k-1 is suppressed ("small-count"), and so is any figure that
   comes from 1 to k-1 patients ("few-patients"); zero is published;
2. derived: a figure computed from a suppressed one (a proportion of a suppressed count) is
   suppressed ("derived");
3. complementary: additive relations (`Sum`: a total and its parts, e.g. complications by grade,
   or n = pain-free + not pain-free) would let a suppressed count be worked out from the total
   and the published parts. After each change the linear system of all the relations is solved
   exactly (rational Gaussian elimination) over the unknown cells (suppressed, or never
   published such as the implied "not pain-free"); while a sensitive cell (primary reason) is
   still determined, the smallest published member of one of its relations is suppressed too
   ("complementary").

Limits: bounds are not protected (a suppressed cell is known to lie in 0..total), nor are
differences between two different queries (cohorts that differ by one patient); both are the
usual residual risks of query-based dissemination and are stated in the API description.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction


class Reason(StrEnum):
    small_count = "small-count"
    few_patients = "few-patients"
    derived = "derived"
    complementary = "complementary"
    cohort_below_minimum = "cohort-below-minimum"  # issue 16: STATS_MIN_PATIENTS, perturbed


EXPLANATIONS: dict[Reason, str] = {
    Reason.small_count: "a count between 1 and k-1",
    Reason.few_patients: "computed from fewer than k patients",
    Reason.derived: "computed from a suppressed figure",
    Reason.complementary: "would let a suppressed count be recomputed from a total",
    Reason.cohort_below_minimum: "the cohort has fewer patients than the minimum (after noise)",
}
PRIMARY = frozenset({Reason.small_count, Reason.few_patients})


@dataclass(frozen=True)
class Cell:
    value: int | None = None  # a count; None for a statistic
    patients: int | None = None  # how many patients it comes from (exact, or a lower bound)
    depends_on: tuple[str, ...] = ()  # suppressed whenever one of these is
    shown: bool = True  # False: never published, but implied by others (e.g. n - x)


@dataclass(frozen=True)
class Sum:
    """total = sum(parts): published together, so one unknown among them is no secret."""

    total: str
    parts: tuple[str, ...]

    @property
    def members(self) -> tuple[str, ...]:
        return (self.total, *self.parts)


def primary_reason(cell: Cell, k: int) -> Reason | None:
    if cell.value is not None and 1 <= cell.value < k:
        return Reason.small_count
    if cell.patients is not None and 1 <= cell.patients < k:
        return Reason.few_patients
    if cell.value is not None and cell.value >= 1 and cell.patients == 0:
        return Reason.few_patients
    return None


def determined(unknowns: Iterable[str], sums: Sequence[Sum]) -> set[str]:
    """The unknown cells that the relations pin down exactly, whatever the published values.
    Solved per connected group of relations (they rarely share cells), so each system is
    small."""
    unknown = set(unknowns)
    involved = [s for s in sums if any(m in unknown for m in s.members)]
    out: set[str] = set()
    for component in _components(involved, unknown):
        out |= _solve(component, unknown)
    return out


def _components(sums: Sequence[Sum], unknown: set[str]) -> list[list[Sum]]:
    """Relations grouped when they share an unknown cell (union-find)."""
    parent = list(range(len(sums)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, s in enumerate(sums):
        for m in s.members:
            if m in unknown:
                if m in owner:
                    parent[root(i)] = root(owner[m])
                else:
                    owner[m] = i
    groups: dict[int, list[Sum]] = {}
    for i, s in enumerate(sums):
        groups.setdefault(root(i), []).append(s)
    return list(groups.values())


def _solve(sums: Sequence[Sum], unknown: set[str]) -> set[str]:
    columns = sorted({m for s in sums for m in s.members if m in unknown})
    index = {name: i for i, name in enumerate(columns)}
    rows: list[list[Fraction]] = []
    for s in sums:
        row = [Fraction(0)] * len(columns)
        for sign, name in ((1, s.total), *((-1, part) for part in s.parts)):
            if name in index:
                row[index[name]] += sign
        if any(row):
            rows.append(row)
    pivots = _rref(rows, len(columns))
    return {columns[col] for col, row in pivots if sum(1 for value in row if value != 0) == 1}


def _rref(rows: list[list[Fraction]], width: int) -> list[tuple[int, list[Fraction]]]:
    """Reduced row echelon form; returns (pivot column, row) pairs."""
    pivots: list[tuple[int, list[Fraction]]] = []
    r = 0
    for col in range(width):
        pick = next((i for i in range(r, len(rows)) if rows[i][col] != 0), None)
        if pick is None:
            continue
        rows[r], rows[pick] = rows[pick], rows[r]
        lead = rows[r][col]
        rows[r] = [v / lead for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][col] != 0:
                factor = rows[i][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append((col, rows[r]))
        r += 1
        if r == len(rows):
            break
    return [(col, rows[i]) for i, (col, _) in enumerate(pivots)]


def suppress(cells: Mapping[str, Cell], sums: Sequence[Sum], k: int) -> dict[str, Reason]:
    """Which cells must not be published, and why. Every cell named by a Sum or a dependency
    must be in `cells`."""
    if k <= 1:
        return {}
    reasons: dict[str, Reason] = {}
    sensitive: set[str] = set()
    for name, cell in cells.items():
        reason = primary_reason(cell, k)
        if reason is not None:
            sensitive.add(name)
            if cell.shown:
                reasons[name] = reason
    hidden = {name for name, cell in cells.items() if not cell.shown}
    relevant = [s for s in sums if any(m in cells for m in s.members)]
    while True:
        changed = _propagate(cells, reasons)
        unknown = hidden | set(reasons)
        if _lone_unknowns(cells, relevant, sensitive, unknown, reasons):
            continue  # the cheap case first: a relation with one unknown member
        exposed = sensitive & determined(unknown, relevant)
        if not exposed:
            if not changed:
                return reasons
            continue
        if not _protect(sorted(exposed), cells, relevant, unknown, reasons):
            return reasons  # nothing left to suppress: every member is already unknown


def _lone_unknowns(
    cells: Mapping[str, Cell],
    sums: Sequence[Sum],
    sensitive: set[str],
    unknown: set[str],
    reasons: dict[str, Reason],
) -> bool:
    """Where a relation has a single unknown member and it is sensitive, suppress the smallest
    published member with it. True when something was suppressed."""
    changed = False
    for s in sums:
        members = [m for m in s.members if m in cells]
        missing = [m for m in members if m in unknown]
        if len(missing) == 1 and missing[0] in sensitive:
            candidates = [m for m in members if m not in unknown]
            if candidates:
                pick = min(candidates, key=lambda m: (_rank(cells[m]), m))
                reasons[pick] = Reason.complementary
                unknown.add(pick)
                changed = True
    return changed


def _propagate(cells: Mapping[str, Cell], reasons: dict[str, Reason]) -> bool:
    changed = False
    while True:
        new = [
            name
            for name, cell in cells.items()
            if name not in reasons and cell.shown and any(d in reasons for d in cell.depends_on)
        ]
        if not new:
            return changed
        for name in new:
            reasons[name] = Reason.derived
        changed = True


def _protect(
    exposed: list[str],
    cells: Mapping[str, Cell],
    sums: Sequence[Sum],
    unknown: set[str],
    reasons: dict[str, Reason],
) -> bool:
    """Suppress one more member of a relation of the first exposed cell that has one."""
    for name in exposed:
        candidates = [
            member
            for s in sums
            if name in s.members
            for member in s.members
            if member not in unknown and member in cells
        ]
        if candidates:
            pick = min(candidates, key=lambda m: (_rank(cells[m]), m))
            reasons[pick] = Reason.complementary
            return True
    return False


def _rank(cell: Cell) -> tuple[int, int]:
    """Prefer the smallest positive count (it hides the most with the least loss)."""
    value = cell.value or 0
    return (0 if value > 0 else 1, value)
