"""The clinical definitions as SQLAlchemy Core expressions, over whatever columns a statement
has: the statistics use them as they are, the sweep renders them into its raw SQL
(`Dialect.render`). Each mirrors a pure function, and the tests hold each to it on both
databases.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Double, and_, case, func, literal, or_
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from app.clinical.definitions import EPSILON, Definitions
from app.clinical.dialect import Dialect
from app.clinical.enums import AUGMENTATION_KINDS, FollowUpKind, PainSite
from app.clinical.levels import REGIONS

AUGMENTATION = sorted(kind.value for kind in AUGMENTATION_KINDS)

# An instant plus a number of days, in the caller's form of instants: the sweep's timestamps
# (`Dialect.plus_days`) or the statistics' epoch microseconds (`Dialect.us_plus_days`). The
# windows below are stated once, over whichever form a statement has.
PlusDays = Callable[[Any, Any], ColumnElement[Any]]


def episode_key(series_id: Any, procedure_id: Any) -> ColumnElement[Any]:
    """ProcedureFact.episode_key: its series, or itself."""
    return func.coalesce(series_id, procedure_id)


def is_augmentation(kind: Any) -> ColumnElement[bool]:
    """Episode.is_augmentation: vertebroplasty or kyphoplasty."""
    return kind.in_(AUGMENTATION)  # type: ignore[no-any-return]


def is_back_pain(site: Any) -> ColumnElement[bool]:
    """pain.is_back_pain: back pain, or no site recorded."""
    return is_at(site, PainSite.back.value)


def is_at(site: Any, target: Any) -> ColumnElement[bool]:
    """pain.is_at: a score of that site (`target`: a site's name, or a column such as the
    procedure's target_pain_site); no site recorded is back pain."""
    return func.coalesce(site, PainSite.back.value) == target  # type: ignore[no-any-return]


def back_pain_score(kind: Any, site: Any, score: Any) -> ColumnElement[bool]:
    """A follow-up event rule B reads: a back-pain score (pain.back_pain)."""
    return pain_score_at(kind, site, score, PainSite.back.value)


def pain_score_at(kind: Any, site: Any, score: Any, target: Any) -> ColumnElement[bool]:
    """A pain score of that site (pain.site_pain; `target` as in `is_at`)."""
    return and_(kind == FollowUpKind.pain.value, is_at(site, target), score.is_not(None))


def improved(base: Any, score: Any, defs: Definitions) -> ColumnElement[bool]:
    """pain.is_improved, operation for operation (double precision, the same EPSILON):
    B - s >= points - eps, or B > 0 and B - s >= fraction * B - eps."""
    return or_(
        base - score >= literal(defs.improvement_points - EPSILON, Double),
        reduced(base, score, defs.improvement_fraction),
    )


def reduced(base: Any, score: Any, fraction: float) -> ColumnElement[bool]:
    """pain.is_reduced: B > 0 and B - s >= fraction * B - eps."""
    return and_(base > 0, base - score >= literal(fraction, Double) * base - EPSILON)


def baseline_window_start(first_at: Any, defs: Definitions, plus_days: PlusDays) -> Any:
    """Where pain.baseline's window opens: first_at - baseline_window_days (included)."""
    return plus_days(first_at, -defs.baseline_window_days)


def in_baseline_window(
    at: Any, first_at: Any, defs: Definitions, plus_days: PlusDays
) -> ColumnElement[bool]:
    """pain.baseline's window: first_at - baseline_window_days <= at < first_at."""
    return and_(at >= baseline_window_start(first_at, defs, plus_days), at < first_at)


def baseline_order(at: Any, id_: Any) -> tuple[UnaryExpression[Any], ...]:
    """pain.baseline's pick among the scores of its window, first: the latest, then the
    greatest id (a LIMIT 1, or a row_number() = 1)."""
    return at.desc(), id_.desc()


def time_point_window_end(t0: Any, day: Any, half_width: Any, plus_days: PlusDays) -> Any:
    """Where pain.nearest's window closes: t0 + day + half_width days (included)."""
    return plus_days(t0, day + half_width)


def in_time_point_window(
    at: Any, t0: Any, day: Any, half_width: Any, plus_days: PlusDays
) -> ColumnElement[bool]:
    """pain.nearest's window: t0 + day +/- half_width days (both ends included), strictly
    after t0 (the statement bounds it by the episode's end). `day` and `half_width`: numbers,
    or integer columns of a table of time points."""
    return and_(
        at >= plus_days(t0, day - half_width),
        at <= time_point_window_end(t0, day, half_width, plus_days),
        at > t0,
    )


def nearest_order(at: Any, t0: Any, day: Any, id_: Any, plus_days: PlusDays) -> tuple[Any, ...]:
    """pain.nearest's pick among the scores of its window, first: the nearest to t0 + day,
    then the earlier, then the smaller id. `at` in a form whose difference is a distance
    (the statistics' epoch microseconds)."""
    return func.abs(at - plus_days(t0, day)), at, id_


def worsened(
    d: Dialect, score: Any, lowest: Any, base: Any, defs: Definitions
) -> ColumnElement[bool]:
    """pain.is_worsened: round(s - lowest, 6) >= worsening points, or s >= B."""
    return or_(d.round6(score - lowest) >= defs.worsening_points, score >= base)


def ends_episode(
    later_key: Any, later_at: Any, key: Any, t0: Any, shares_level: ColumnElement[bool]
) -> ColumnElement[bool]:
    """episodes.ends: a procedure after the episode's t0, of another episode, that treats one
    of its levels (`shares_level`: the statement's test of that, a join or an IN)."""
    return and_(later_at > t0, later_key != key, shares_level)


def region_of_level(level: Any) -> ColumnElement[str]:
    """levels.region_of, from the same table (by the first letter of the level's name)."""
    first = func.substr(level, 1, 1)
    *named, (_last_prefix, last, _count) = REGIONS
    return case(*((first == prefix, region.value) for prefix, region, _ in named), else_=last.value)
