"""The parameters of the clinical definitions (clinical-rules.md sections 3 and 4), in one object.

Built from the settings once (`Definitions.from_settings`); the pure rules, the set-based
sweep, the immediate trigger evaluation, the case view, the statistics and the work-up's
eligibility all take it.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.clinical.days import UTC_NAME

if TYPE_CHECKING:
    from app.config import Settings

# day after t0 -> half-width of its window, in days (clinical-rules.md section 4). Not a
# setting: the statistics' summary has a column per time point.
TIME_POINTS: dict[int, int] = {7: 3, 14: 4, 30: 7, 90: 21, 180: 30, 365: 60}

# Scores carry at most two decimals; comparisons allow for binary floating point, so that
# 7.3 -> 5.3 is the 2-point drop it is, and 3 -> 2.1 the 30 % it is. The SQL uses the same.
EPSILON = 1e-6
# rule B compares score differences rounded to this many decimals (Python and SQL alike)
ROUNDING = 6


@dataclass(frozen=True)
class Definitions:
    # baseline: the latest target-site score this many days before the first session
    baseline_window_days: int = 30
    # improved: B - s >= points, or (B - s) / B >= fraction
    improvement_points: float = 2.0
    improvement_fraction: float = 0.30
    # rule B: s - (lowest since the improvement) >= this, or s >= B
    worsening_points: float = 2.0
    # rule A: due at t0 + check_day; "no improvement" (not "follow-up overdue") needs a score
    # in [t0 + window_start_day, t0 + check_day]; applies when B >= min_baseline
    check_day: int = 14
    window_start_day: int = 7
    min_baseline: float = 2.0
    # the IANA time zone whose calendar days are the clinical days (app.clinical.days)
    time_zone: str = UTC_NAME
    # the pre-procedure work-up (clinical-rules.md section 2; app.procedures.eligibility): CT or MRI
    # at most this many days before, platelets > this (10^9/L), INR < this
    workup_imaging_max_age_days: int = 90
    workup_platelets_min: float = 50.0
    workup_inr_max: float = 1.5

    @classmethod
    def from_settings(cls, s: "Settings") -> "Definitions":
        return cls(
            baseline_window_days=s.baseline_window_days,
            improvement_points=s.improvement_points,
            improvement_fraction=s.improvement_fraction,
            worsening_points=s.worsening_points,
            check_day=s.trigger_check_day,
            window_start_day=s.trigger_window_start_day,
            min_baseline=s.trigger_min_baseline,
            time_zone=s.registry_time_zone,
            workup_imaging_max_age_days=s.workup_imaging_max_age_days,
            workup_platelets_min=s.workup_platelets_min_10e9_per_l,
            workup_inr_max=s.workup_inr_max,
        )


def current() -> Definitions:
    """The definitions of the running configuration."""
    from app.config import get_settings

    return Definitions.from_settings(get_settings())
