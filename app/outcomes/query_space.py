"""The query space of `stats:read` (issue 16; docs/disclosure-control-design.md section 3.9).

No perturbation answers unlimited free cohorts accurately: every free combination of filters is
a tracker. So `stats:read` may ask at most `STATS_READ_MAX_FILTERS` single-valued coded filters
(breakdown's `by` counts as one), dates only by year or quarter (`period`), levels only as a
band, the trajectory only by week. `stats:research` keeps every filter. Pure: no HTTP, no SQL.
"""

import re
from datetime import date

from app.errors import RuleViolation
from app.outcomes.cohort import DEFAULT_KINDS, Cohort

CODE = "not-available-for-scope"
PERIOD = re.compile(r"(\d{4})(?:-Q([1-4]))?")
LEVEL_BAND_TOP = 5  # level bands 0, 1, 2, 3, 4, 5+


def period_dates(period: str) -> tuple[date, date]:
    """`YYYY` or `YYYY-Qn`: its first and last day."""
    match = PERIOD.fullmatch(period)
    if match is None or not 1900 <= int(match.group(1)) <= 2999:
        raise RuleViolation("period", "period is a year (2024) or a quarter (2024-Q3).")
    year = int(match.group(1))
    if match.group(2) is None:
        return date(year, 1, 1), date(year, 12, 31)
    quarter = int(match.group(2))
    first = date(year, 3 * quarter - 2, 1)
    after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return first, date.fromordinal(after.toordinal() - 1)


def _refuse(field: str, message: str) -> RuleViolation:
    return RuleViolation(field, f"{message} (stats:read; stats:research may).", code=CODE)


def check_read_scope(cohort: Cohort, *, max_filters: int, extra: int = 0) -> None:
    """Raise 422 `not-available-for-scope`, naming the field, for a cohort `stats:read` may not
    ask. `extra` counts filters of the route itself (breakdown's `by`)."""
    period = cohort.period
    many = {
        "histology": cohort.histology_groups,
        "age_band": cohort.age_bands,
        "sex": cohort.sex,
        "indication": cohort.indications,
        "region": cohort.regions,
    }
    if cohort.kinds != DEFAULT_KINDS:
        many["kind"] = cohort.kinds
    for field, values in many.items():
        if len(values) > 1:
            raise _refuse(field, f"{field} takes one value")
    if period is None and (cohort.performed_from or cohort.performed_to):
        field = "performed_from" if cohort.performed_from else "performed_to"
        raise _refuse(field, "dates by the day are not available: ask a period (YYYY or YYYY-Qn)")
    levels = (cohort.levels_min, cohort.levels_max)
    if levels != (None, None) and not (
        (levels[0] is not None and levels[0] == levels[1] and levels[0] < LEVEL_BAND_TOP)
        or levels == (LEVEL_BAND_TOP, None)
    ):
        field = "levels_min" if cohort.levels_min is not None else "levels_max"
        raise _refuse(field, "levels only as a band: levels_min = levels_max < 5, or levels_min 5")
    used = sum(1 for values in many.values() if values)
    used += sum(1 for flag in (cohort.staged, cohort.repeat) if flag is not None)
    used += (period is not None) + (levels != (None, None)) + extra
    if used > max_filters:
        raise _refuse("filters", f"at most {max_filters} filters, `by` included; {used} asked")


def check_read_unit(unit: str) -> None:
    """The trajectory by week only: daily buckets would double what differencing can use."""
    if unit != "week":
        raise _refuse("unit", "the trajectory is available by week")
