"""Pain scores: the scores the rules use (of the site the episode's procedure targets; back
pain for rule B), the baseline, "improved", "worsened", the score nearest a time point and the
trajectory (clinical-rules.md sections 3 and 4). Pure functions.

Their SQL forms are in app.clinical.predicates; the tests hold each to its pure form.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.clinical.definitions import EPSILON, ROUNDING, TIME_POINTS, Definitions
from app.clinical.enums import PainSite
from app.clinical.episodes import Episode


@dataclass(frozen=True)
class PainFact:
    occurred_at: datetime
    score: float
    site: str | None = PainSite.back  # None: not recorded, read as back pain
    id: uuid.UUID | None = None  # the follow-up event, when the caller needs it as evidence


def is_back_pain(site: str | None) -> bool:
    """Back (axial) pain: rule B's site; a score without a site is back pain."""
    return is_at(site, PainSite.back)


def is_at(site: str | None, target: str) -> bool:
    """A score of that site (a score without a site is back pain)."""
    return (site or PainSite.back) == target


class InTimeOrder(list[PainFact]):
    """What `in_time_order` returns: given to it again, it is returned as it is (the rules ask
    for a history's scores several times per episode; a caller evaluating many episodes
    sorts once)."""


def in_time_order(scores: Iterable[PainFact]) -> InTimeOrder:
    if isinstance(scores, InTimeOrder):
        return scores
    return InTimeOrder(sorted(scores, key=lambda s: (s.occurred_at, s.id.int if s.id else 0)))


def site_pain(scores: Iterable[PainFact], site: str) -> list[PainFact]:
    """The scores of one site, in time order."""
    return [s for s in in_time_order(scores) if is_at(s.site, site)]


def back_pain(scores: Iterable[PainFact]) -> list[PainFact]:
    """The scores rule B uses (back pain), in time order."""
    return site_pain(scores, PainSite.back)


def target_pain(episode: Episode, scores: Iterable[PainFact]) -> list[PainFact]:
    """The scores of the pain the episode's procedure targets (its baseline, rule A, the
    day-14 decision, its trajectory and outcome figures), in time order."""
    return site_pain(scores, episode.target_site)


def baseline(
    episode: Episode, scores: Sequence[PainFact], defs: Definitions, site: str | None = None
) -> PainFact | None:
    """The latest score of the site (by default the episode's target) in the window before
    the episode's first session."""
    start = episode.first_at - timedelta(days=defs.baseline_window_days)
    of_site = site_pain(scores, site or episode.target_site)
    before = [s for s in of_site if start <= s.occurred_at < episode.first_at]
    return before[-1] if before else None


def is_improved(base: float, score: float, defs: Definitions) -> bool:
    """B - s >= 2 points, or a relative reduction >= 30 % (Farrar 2001); either suffices."""
    drop = base - score
    return drop >= defs.improvement_points - EPSILON or is_reduced(
        base, score, defs.improvement_fraction
    )


def is_reduced(base: float, score: float, fraction: float) -> bool:
    """A relative reduction of at least `fraction` (improvement, the IMMPACT bands)."""
    return base > 0 and base - score >= fraction * base - EPSILON


def is_worsened(score: float, lowest: float, base: float, defs: Definitions) -> bool:
    """Rule B: s - (lowest since the improvement) >= worsening points, or s >= B."""
    return round(score - lowest, ROUNDING) >= defs.worsening_points or score >= base


def nearest(
    episode: Episode, scores: Sequence[PainFact], day: int, half_width: int
) -> PainFact | None:
    """The target-site score nearest to t0 + day within +/- half_width days, inside the
    episode; ties: the earlier."""
    target = episode.t0 + timedelta(days=day)
    lo, hi = target - timedelta(days=half_width), target + timedelta(days=half_width)
    candidates = [
        s
        for s in target_pain(episode, scores)
        if lo <= s.occurred_at <= hi and episode.contains(s.occurred_at)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (abs(s.occurred_at - target), s.occurred_at))


@dataclass(frozen=True)
class TimePointScore:
    """One episode's score at a time point (the statistics' cohort point is
    app.outcomes.schemas.TrajectoryPoint)."""

    day: int
    score: float | None
    occurred_at: datetime | None
    change: float | None  # score - baseline
    improved: bool | None


@dataclass(frozen=True)
class Trajectory:
    baseline: float | None
    baseline_at: datetime | None
    points: tuple[TimePointScore, ...] = field(default_factory=tuple)

    @property
    def baseline_missing(self) -> bool:
        return self.baseline is None


def trajectory(
    episode: Episode,
    scores: Sequence[PainFact],
    defs: Definitions,
    time_points: dict[int, int] = TIME_POINTS,
) -> Trajectory:
    base = baseline(episode, scores, defs)
    points = []
    for day, half_width in time_points.items():
        s = nearest(episode, scores, day, half_width)
        change = None if s is None or base is None else round(s.score - base.score, 2)
        improved = None if s is None or base is None else is_improved(base.score, s.score, defs)
        points.append(
            TimePointScore(
                day, s.score if s else None, s.occurred_at if s else None, change, improved
            )
        )
    return Trajectory(
        base.score if base else None, base.occurred_at if base else None, tuple(points)
    )
