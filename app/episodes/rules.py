"""Episodes, baselines, improvement and the pain trajectory (DOMAIN.md sections 3 and 4).

Pure functions over plain data: the case endpoint, the imaging triggers and the tests all use
them, and the SQL of the statistics follows the same definitions.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.models.enums import AUGMENTATION_KINDS, PainSite


@dataclass(frozen=True)
class ProcedureFact:
    id: uuid.UUID
    performed_at: datetime
    kind: str
    levels: frozenset[str]
    series_id: uuid.UUID | None = None


@dataclass(frozen=True)
class PainFact:
    occurred_at: datetime
    score: float
    site: str = PainSite.back
    id: uuid.UUID | None = None  # the follow-up event, when the caller needs it as evidence


@dataclass(frozen=True)
class Episode:
    """A procedure, or a staged series counted from its last session."""

    key: uuid.UUID  # the series id, or the procedure id of a single session
    procedure_ids: tuple[uuid.UUID, ...]
    kind: str
    levels: frozenset[str]
    first_at: datetime  # the first session: the baseline is taken before it
    t0: datetime  # the last session: follow-up days count from it
    ended_at: datetime | None = None  # a later procedure on any of the same levels
    ended_by: uuid.UUID | None = None

    @property
    def is_augmentation(self) -> bool:
        return self.kind in AUGMENTATION_KINDS

    def contains(self, at: datetime) -> bool:
        return at > self.t0 and (self.ended_at is None or at < self.ended_at)


@dataclass(frozen=True)
class Thresholds:
    baseline_window_days: int = 30
    improvement_points: float = 2.0
    improvement_fraction: float = 0.30


# day after t0 -> half-width of the window, in days (DOMAIN.md section 4)
TIME_POINTS: dict[int, int] = {7: 3, 14: 4, 30: 7, 90: 21, 180: 30, 365: 60}


@dataclass(frozen=True)
class TrajectoryPoint:
    day: int
    score: float | None
    occurred_at: datetime | None
    change: float | None  # score - baseline
    improved: bool | None


@dataclass(frozen=True)
class Trajectory:
    baseline: float | None
    baseline_at: datetime | None
    points: tuple[TrajectoryPoint, ...] = field(default_factory=tuple)

    @property
    def baseline_missing(self) -> bool:
        return self.baseline is None


def build_episodes(procedures: Iterable[ProcedureFact]) -> list[Episode]:
    """Group staged sessions into episodes and end each at the next procedure on its levels."""
    groups: dict[uuid.UUID, list[ProcedureFact]] = {}
    for p in sorted(procedures, key=lambda p: (p.performed_at, p.id)):
        groups.setdefault(p.series_id or p.id, []).append(p)
    drafts = [
        Episode(
            key=key,
            procedure_ids=tuple(p.id for p in group),
            kind=group[0].kind,
            levels=frozenset().union(*(p.levels for p in group)),
            first_at=group[0].performed_at,
            t0=group[-1].performed_at,
        )
        for key, group in groups.items()
    ]
    everything = sorted(
        (p for group in groups.values() for p in group), key=lambda p: (p.performed_at, p.id)
    )
    episodes = []
    for e in drafts:
        ender = next(
            (
                p
                for p in everything
                if p.performed_at > e.t0 and p.id not in e.procedure_ids and p.levels & e.levels
            ),
            None,
        )
        if ender is not None:
            e = Episode(**{**e.__dict__, "ended_at": ender.performed_at, "ended_by": ender.id})
        episodes.append(e)
    return sorted(episodes, key=lambda e: (e.first_at, e.key))


class BackPain(list[PainFact]):
    """What `back_pain` returns: given to it again, it is returned as it is (the rules ask
    for it several times per episode; a caller evaluating many episodes sorts once)."""


def back_pain(scores: Iterable[PainFact]) -> BackPain:
    """The scores the rules use: back (axial) pain, in time order."""
    if isinstance(scores, BackPain):
        return scores
    return BackPain(
        sorted(
            (s for s in scores if s.site == PainSite.back),
            key=lambda s: (s.occurred_at, s.id.int if s.id else 0),
        )
    )


def baseline(episode: Episode, scores: Sequence[PainFact], t: Thresholds) -> PainFact | None:
    """The latest back-pain score in the window before the episode's first session."""
    start = episode.first_at - timedelta(days=t.baseline_window_days)
    before = [s for s in back_pain(scores) if start <= s.occurred_at < episode.first_at]
    return before[-1] if before else None


# Scores carry at most two decimals; comparisons allow for binary floating point, so that
# 7.3 -> 5.3 is the 2-point drop it is, and 3 -> 2.1 the 30 % it is. The SQL uses the same.
EPSILON = 1e-6


def is_improved(base: float, score: float, t: Thresholds) -> bool:
    """B - s >= 2 points, or a relative reduction >= 30 % (Farrar 2001); either suffices."""
    drop = base - score
    return drop >= t.improvement_points - EPSILON or (
        base > 0 and drop >= t.improvement_fraction * base - EPSILON
    )


def nearest(
    episode: Episode, scores: Sequence[PainFact], day: int, half_width: int
) -> PainFact | None:
    """The back-pain score nearest to t0 + day within +/- half_width days, inside the episode."""
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


def trajectory(
    episode: Episode,
    scores: Sequence[PainFact],
    t: Thresholds,
    time_points: dict[int, int] = TIME_POINTS,
) -> Trajectory:
    base = baseline(episode, scores, t)
    points = []
    for day, half_width in time_points.items():
        s = nearest(episode, scores, day, half_width)
        change = None if s is None or base is None else round(s.score - base.score, 2)
        improved = None if s is None or base is None else is_improved(base.score, s.score, t)
        points.append(
            TrajectoryPoint(
                day, s.score if s else None, s.occurred_at if s else None, change, improved
            )
        )
    return Trajectory(
        base.score if base else None, base.occurred_at if base else None, tuple(points)
    )
