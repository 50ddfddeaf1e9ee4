"""The clinical definitions the summary is computed with, and what the SQL builders share."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Double, Integer, Select, and_, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from app.config import Settings
from app.episodes.rules import EPSILON, TIME_POINTS
from app.models.enums import AUGMENTATION_KINDS, Leakage, Sir2017, SirClassic
from app.outcomes.dialect import Dialect

# bump when a definition changes: the next refresh then rebuilds every summary row
SUMMARY_VERSION = "8"
AUGMENTATION = sorted(AUGMENTATION_KINDS)
MEASURES = {"pain": "pain", "ps": "performance", "odi": "function"}
DAYS = tuple(TIME_POINTS)
POINTS = ("base", *(f"d{day}" for day in DAYS))
LEAKAGE_SITES = (*(site.value for site in Leakage), "not_recorded")
SIR_GRADES = (*(g.value for g in SirClassic), "ungraded")
SIR_2017_GRADES = (*(g.value for g in Sir2017), "ungraded")
CIRSE_GRADES = (*(str(g) for g in range(1, 7)), "ungraded")
MAJOR_SIR = ("C", "D", "E", "F")
# the per-episode complication counts (NULL: none): column -> what it counts
COMPLICATION_COLUMNS = (
    "cx_total", "cx_sessions", "cx_level_linked", "cx_levels", "cx_major", "cx_symptomatic",
    *(f"cx_sir_{g.lower()}" for g in SIR_GRADES),
    *(f"cx_sir2017_{g}" for g in SIR_2017_GRADES),
    *(f"cx_cirse_{g}" for g in CIRSE_GRADES),
)  # fmt: skip


@dataclass(frozen=True)
class Definitions:
    baseline_window_days: int = 30
    improvement_points: float = 2.0
    improvement_fraction: float = 0.30
    worsening_points: float = 2.0

    @classmethod
    def from_settings(cls, s: Settings) -> "Definitions":
        return cls(
            s.baseline_window_days,
            s.improvement_points,
            s.improvement_fraction,
            s.worsening_points,
        )

    @property
    def fingerprint(self) -> str:
        return (
            f"v{SUMMARY_VERSION};baseline={self.baseline_window_days};"
            f"points={self.improvement_points};fraction={self.improvement_fraction};"
            f"worsening={self.worsening_points}"
        )


def big(value: int) -> ColumnElement[int]:
    return literal(value, BigInteger)


def day_rows(days: Sequence[int], with_width: bool) -> Any:
    """A constant table of time points: (day) or (day, hw), as a UNION ALL (both dialects)."""
    rows = [
        select(
            literal(day, Integer).label("day"),
            *([literal(TIME_POINTS.get(day, 0), Integer).label("hw")] if with_width else []),
        )
        for day in days
    ]
    return union_all(*rows)


def improved_sql(
    d: Dialect, base: ColumnElement[float], score: ColumnElement[float], defs: Definitions
) -> ColumnElement[bool]:
    """app.episodes.rules.is_improved, operation for operation (double precision, the same
    EPSILON tolerance): B - s >= points - eps, or B > 0 and B - s >= fraction * B - eps."""
    drop = base - score
    return or_(
        drop >= literal(defs.improvement_points - EPSILON, Double),
        and_(base > 0, drop >= literal(defs.improvement_fraction, Double) * base - EPSILON),
    )


def reduced_sql(
    base: ColumnElement[float], score: ColumnElement[float], fraction: float
) -> ColumnElement[bool]:
    """A relative reduction of at least `fraction` (the IMMPACT bands), with the rules'
    tolerance: B > 0 and B - s >= fraction * B - eps."""
    return and_(base > 0, base - score >= literal(fraction, Double) * base - EPSILON)


# which patients to recompute: all (None), a subquery of their ids, or a short list of ids
Patients = Select[Any] | list[uuid.UUID] | None


@dataclass(frozen=True)
class Scope:
    """The dialect, the definitions, and which patients to compute."""

    d: Dialect
    defs: Definitions
    patients: Patients = None

    def only(self, column: Any) -> list[ColumnElement[bool]]:
        return [] if self.patients is None else [column.in_(self.patients)]
