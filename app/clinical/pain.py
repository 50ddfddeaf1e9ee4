"""Pain scores: the scores the rules use, the baseline, "improved", "worsened", the score
nearest a time point and the trajectory (DOMAIN.md sections 3 and 4). Pure functions.

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
    """The site the rules use: back (axial) pain; a score without a site is back pain."""
    return (site or PainSite.back) == PainSite.back


class BackPain(list[PainFact]):
    """What `back_pain` returns: given to it again, it is returned as it is (the rules ask
    for it several times per episode; a caller evaluating many episodes sorts once)."""


def back_pain(scores: Iterable[PainFact]) -> BackPain:
    """The scores the rules use, in time order."""
    if isinstance(scores, BackPain):
        return scores
    return BackPain(
        sorted(
            (s for s in scores if is_back_pain(s.site)),
            key=lambda s: (s.occurred_at, s.id.int if s.id else 0),
        )
    )


def baseline(episode: Episode, scores: Sequence[PainFact], defs: Definitions) -> PainFact | None:
    """The latest back-pain score in the window before the episode's first session."""
    start = episode.first_at - timedelta(days=defs.baseline_window_days)
    before = [s for s in back_pain(scores) if start <= s.occurred_at < episode.first_at]
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
    """The back-pain score nearest to t0 + day within +/- half_width days, inside the episode;
    ties: the earlier."""
    target = episode.t0 + timedelta(days=day)
    lo, hi = target - timedelta(days=half_width), target + timedelta(days=half_width)
    candidates = [
        s
        for s in back_pain(scores)
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
