"""What the summary's SQL builders share: its version, its columns' names, the scope.

The clinical definitions themselves are app.clinical's (Definitions, predicates, dialect)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, Select, literal, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from app.clinical.days import UTC_NAME
from app.clinical.definitions import TIME_POINTS, Definitions
from app.clinical.dialect import Dialect
from app.clinical.enums import Leakage, Sir2017, SirClassic

# bump when a definition changes: the next refresh then rebuilds every summary row
SUMMARY_VERSION = "11"
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


def fingerprint(defs: Definitions) -> str:
    """What the summary was computed with: a change rebuilds it (the trigger-only settings
    are not in it; the time zone is named when it is not UTC, so that the UTC summaries of
    before the setting stay current)."""
    zone = "" if defs.time_zone == UTC_NAME else f";tz={defs.time_zone}"
    return (
        f"v{SUMMARY_VERSION};baseline={defs.baseline_window_days};"
        f"points={defs.improvement_points};fraction={defs.improvement_fraction};"
        f"worsening={defs.worsening_points}{zone}"
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
