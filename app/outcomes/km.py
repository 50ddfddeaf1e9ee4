"""Kaplan-Meier estimates from counts aggregated in SQL (pure; no database).

Input: for each day, how many observations end that day and how many of them are events
(the rest are censored); the SQL groups the per-episode times, so this never sees a row per
patient. Conventions (as R's survival::survfit with conf.type = "log-log"):

- at a tie, events happen before censoring (the censored are at risk on their last day);
- Greenwood variance; the 95 % interval on the log(-log S) scale;
- where the curve reaches 0 (everyone still at risk has the event) the Greenwood term divides
  by zero: the interval is undefined there and after (None; survfit gives NA), CI_UNDEFINED;
- the median is the first day S(t) <= 0.5; its interval runs from the first day the lower
  band is <= 0.5 to the first day the upper band is (open-ended when it never is; undefined,
  None, when the band reaches an undefined step first);
- S(t) is undefined (None) after the last observation when the curve has not reached 0.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

Z95 = 1.959963984540054
CI_UNDEFINED = (
    "undefined: the curve reaches 0 (everyone still at risk had the event), where the "
    "Greenwood variance is undefined (R's survfit gives NA)"
)


@dataclass(frozen=True)
class Step:
    day: int
    at_risk: int
    events: int
    survival: float
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class Point:
    day: int
    at_risk: int
    survival: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class Estimate:
    n: int
    events: int
    steps: tuple[Step, ...]
    last_day: int | None  # the last observation (event or censoring)

    @property
    def censored(self) -> int:
        return self.n - self.events

    def at_risk(self, day: int) -> int:
        """How many were still observed on `day` (their time is day or later)."""
        return next((s.at_risk for s in self.steps if s.day >= day), 0)

    def at(self, day: int) -> Point:
        survival: float = 1.0
        lower: float | None = 1.0
        upper: float | None = 1.0
        for s in self.steps:
            if s.day > day:
                break
            survival, lower, upper = s.survival, s.lower, s.upper
        at_risk = self.at_risk(day)
        if self.last_day is None or (day > self.last_day and survival > 0):
            return Point(day, at_risk, None, None, None)
        return Point(day, at_risk, survival, lower, upper)

    def _first_day(self, values: Iterable[tuple[int, float | None]]) -> int | None:
        """The first day `value` <= 0.5; None when it never is or is undefined first."""
        for day, value in values:
            if value is None:
                return None
            if value <= 0.5:
                return day
        return None

    @property
    def median_ci_undefined(self) -> bool:
        """Whether a bound of the median's interval is None because its band reached a step
        where the interval is undefined (rather than never reaching 0.5)."""
        with_events = [s for s in self.steps if s.events]
        return any(
            next((v for v in values if v is None or v <= 0.5), 1.0) is None
            for values in ([s.lower for s in with_events], [s.upper for s in with_events])
        )

    @property
    def median(self) -> int | None:
        return self._first_day((s.day, s.survival) for s in self.steps if s.events)

    @property
    def median_ci(self) -> tuple[int | None, int | None]:
        with_events = [s for s in self.steps if s.events]
        return (
            self._first_day((s.day, s.lower) for s in with_events),
            self._first_day((s.day, s.upper) for s in with_events),
        )


def estimate(rows: Iterable[tuple[int, int, int]], z: float = Z95) -> Estimate:
    """`rows`: (day, observations ending that day, events among them), any order."""
    by_day: dict[int, list[int]] = {}
    for day, ended, events in rows:
        if ended <= 0:
            continue
        if events < 0 or events > ended:
            raise ValueError(f"day {day}: {events} events among {ended} observations")
        slot = by_day.setdefault(day, [0, 0])
        slot[0] += ended
        slot[1] += events
    n = sum(ended for ended, _ in by_day.values())
    total_events = sum(events for _, events in by_day.values())
    at_risk = n
    survival = 1.0
    greenwood = 0.0
    steps: list[Step] = []
    for day in sorted(by_day):
        ended, events = by_day[day]
        if events:
            survival *= 1 - events / at_risk
            if at_risk > events:
                greenwood += events / (at_risk * (at_risk - events))
        lower, upper = _log_log(survival, greenwood, z)
        steps.append(Step(day, at_risk, events, survival, lower, upper))
        at_risk -= ended
    return Estimate(n, total_events, tuple(steps), max(by_day) if by_day else None)


def _log_log(survival: float, greenwood: float, z: float) -> tuple[float | None, float | None]:
    if survival <= 0:
        return None, None  # the Greenwood term is undefined where the curve reaches 0
    if survival >= 1 or greenwood == 0:
        return survival, survival
    log_s = math.log(survival)
    se = math.sqrt(greenwood) / abs(log_s)
    return survival ** math.exp(z * se), survival ** math.exp(-z * se)
