"""The worklist's pure rules (no database, no FastAPI): which protocol time point of an episode
is due at a moment, and the order of the rows.

clinical-rules.md section 4 gives the time points (day d after t0, +/- a half-width; the one table
is `app.clinical.definitions.TIME_POINTS`); section 3 says an episode is a procedure, or a staged
series counted from its last session, ended by a later procedure on one of its levels. Here:

- only vertebroplasty/kyphoplasty episodes are followed up (`Episode.is_augmentation`);
- a time point is due from when its window opens (t0 + d - w) until it closes (t0 + d + w),
  both included, like the score nearest a time point (`app.clinical.pain.nearest`);
- an episode ended by a later procedure at or before the moment has no time point due (its
  pending time points are closed), nor has a patient who died on or before the moment's
  clinical day (`app.clinical.days`);
- where two windows overlap (day 7's closes as day 14's opens, at t0 + 10 days), the earlier
  time point is due unless a score already lies in its window;
- a score counts for a window when it is of the episode's target site, taken by the moment,
  inside the window and inside the episode (the same scores `nearest` picks).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.clinical.days import clinical_date
from app.clinical.definitions import TIME_POINTS, Definitions
from app.clinical.episodes import Episode
from app.clinical.pain import PainFact, nearest


@dataclass(frozen=True)
class DuePoint:
    """A protocol time point of an episode whose window is open at the moment."""

    day: int
    half_width: int
    due_at: datetime  # t0 + day
    window_opens: datetime  # t0 + day - half_width
    window_closes: datetime  # t0 + day + half_width
    score: PainFact | None  # the score nearest the time point, taken by the moment, if any

    @property
    def score_in_window(self) -> bool:
        return self.score is not None


def window(episode: Episode, day: int, half_width: int) -> tuple[datetime, datetime]:
    """When a time point's window opens and closes (elapsed days after t0)."""
    return (
        episode.t0 + timedelta(days=day - half_width),
        episode.t0 + timedelta(days=day + half_width),
    )


def open_points(
    episode: Episode,
    scores: Sequence[PainFact],
    at: datetime,
    time_points: dict[int, int] = TIME_POINTS,
) -> list[DuePoint]:
    """The time points whose windows are open at `at`, whatever the episode's state."""
    taken = [s for s in scores if s.occurred_at <= at]
    points = []
    for day, half_width in sorted(time_points.items()):
        opens, closes = window(episode, day, half_width)
        if opens <= at <= closes:
            points.append(
                DuePoint(
                    day,
                    half_width,
                    episode.t0 + timedelta(days=day),
                    opens,
                    closes,
                    nearest(episode, taken, day, half_width),
                )
            )
    return points


def is_followed_at(episode: Episode, at: datetime, died_on: date | None, defs: Definitions) -> bool:
    """An episode whose follow-up is open at `at`: an augmentation, not ended by a later
    procedure by then, its patient not dead by then (clinical day)."""
    if not episode.is_augmentation or at <= episode.t0:
        return False
    if episode.ended_at is not None and episode.ended_at <= at:
        return False
    return died_on is None or died_on > clinical_date(at, defs.time_zone)


def due_point(
    episode: Episode,
    scores: Sequence[PainFact],
    at: datetime,
    died_on: date | None,
    defs: Definitions,
    time_points: dict[int, int] = TIME_POINTS,
) -> DuePoint | None:
    """The episode's next protocol time point due at `at`, or None (see the module's rules)."""
    if not is_followed_at(episode, at, died_on, defs):
        return None
    points = open_points(episode, scores, at, time_points)
    if not points:
        return None
    return next((p for p in points if not p.score_in_window), points[-1])


def due_points(
    episodes: Iterable[Episode],
    scores: Sequence[PainFact],
    at: datetime,
    died_on: date | None,
    defs: Definitions,
) -> list[tuple[Episode, DuePoint]]:
    """Every episode of one patient with a time point due at `at`."""
    found = []
    for e in episodes:
        point = due_point(e, scores, at, died_on, defs)
        if point is not None:
            found.append((e, point))
    return found


# --- order ---------------------------------------------------------------------------------

# most urgent first: imaging triggers (already due: the oldest first), then pain scores not
# yet taken (the window closing first), then pain scores already taken in their window
TRIGGER, SCORE_MISSING, SCORE_TAKEN = 0, 1, 2


def urgency(rank: int, deadline: datetime, row_id: str) -> tuple[int, datetime, str]:
    """The sort key of a row: its rank, then its deadline (a trigger's due time, a window's
    close), then its id (a total order, so cursors are stable)."""
    return (rank, deadline, row_id)
