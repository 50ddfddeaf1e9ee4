"""The pain, analgesia and scored-measure figures of GET /stats/outcomes: declared over the
cohort's summary rows (`c`), read back as schemas; keys from app.outcomes.figure_keys.

- improved: B - s >= 2 points or (B - s) / B >= 30 % (app.clinical.pain.is_improved);
- IMMPACT bands: (B - s) / B >= 30 % and >= 50 %, for B > 0;
- completeness at day d: a score in the window, among the episodes whose window
  [t0 + d - w, t0 + d + w] ended before now, before the day of death and before the episode;
- analgesia at day d: the state at the end of day d after t0, t0 + d + 1 days (before the
  first session for the baseline), counted once that moment has passed, inside the episode
  and before the day of death, for the episodes with a medication history by then.
"""

from typing import Any, get_args

from sqlalchemy import and_, not_, true
from sqlalchemy.sql.elements import ColumnElement

from app.clinical.definitions import TIME_POINTS
from app.clinical.dialect import DAY_US, Dialect
from app.clinical.predicates import time_point_window_end
from app.outcomes import schemas
from app.outcomes.figure_keys import (
    AnalgesiaPoint,
    Counts,
    FigureKey,
    Omes,
    Pain,
    PainPoint,
    Scored,
    n_of,
    not_of,
)
from app.outcomes.sheet import Sheet

POINT_DAYS: tuple[tuple[str, int], ...] = (("base", 0), *((f"d{d}", d) for d in TIME_POINTS))
OMES: tuple[Omes, ...] = get_args(Omes)


def is_true(column: Any) -> ColumnElement[bool]:
    test: ColumnElement[bool] = column == true()
    return test


def binary(
    s: Sheet,
    key: FigureKey,
    total: FigureKey,
    where: ColumnElement[bool],
    among: Any,
    *,
    implies: bool = False,
) -> None:
    """A count and its complement within `total` (rows `among`); declares the ratio.
    `implies`: `where` holds only among those rows (the count tests `where` alone)."""
    s.count("episodes", key, where if implies else and_(among, where))
    s.count(
        "episodes",
        not_of(key),
        and_(among, not_(where)),
        hidden=True,
        difference=(total, key),
    )
    s.add_sum(total, [key, not_of(key)])
    s.ratio(key, total)


# --- pain --------------------------------------------------------------------------------------
def declare_pain(s: Sheet, c: Any, now_us: int) -> None:
    base = c.pain_base
    s.measure("episodes", Pain.base, base, None)
    s.count(
        "episodes",
        Pain.baseline_missing,
        base.is_(None),
        difference=(Counts.episodes, n_of(Pain.base)),
    )
    s.add_sum(Counts.episodes, [n_of(Pain.base), Pain.baseline_missing])
    s.ratio(Pain.baseline_missing, Counts.episodes)
    for day, width in TIME_POINTS.items():
        _declare_pain_point(s, c, PainPoint(day), width, now_us)


def _declare_pain_point(s: Sheet, c: Any, k: PainPoint, width: int, now_us: int) -> None:
    base, score, day = c.pain_base, c[f"pain_d{k.day}"], k.day
    both = and_(base.is_not(None), score.is_not(None))
    s.measure("episodes", k.score, score, None)
    s.measure("episodes", k.change, c[f"pain_change_d{day}"], None)
    # improved_d and band_d are NULL unless there is a baseline and a score (and, for
    # the bands, a baseline above 0); score == 0 implies a score
    binary(s, k.improved, k.change_n, is_true(c[f"improved_d{day}"]), both, implies=True)
    binary(s, k.pain_free, k.n, score == 0, score.is_not(None), implies=True)
    reducible = and_(both, base > 0)
    s.count("episodes", k.reducible, reducible)
    for band in (30, 50):
        where = is_true(c[f"band{band}_d{day}"])
        binary(s, k.immpact(band), k.reducible, where, reducible, implies=True)
    # complete only once the window has closed (before now) inside the episode
    closes = time_point_window_end(c.t0_us, day, width, Dialect.us_plus_days)
    eligible = and_(is_true(c[f"window_d{day}"]), closes < now_us)
    s.count("episodes", k.eligible, eligible)
    binary(s, k.complete, k.eligible, score.is_not(None), eligible)


def pain_read(s: Sheet) -> schemas.Pain:
    d14 = PainPoint(14)
    return schemas.Pain(
        baseline=s.distribution(Pain.base, Counts.episodes),
        baseline_missing=s.rate(Pain.baseline_missing, Counts.episodes),
        clinical_success_2w=s.rate(d14.improved, d14.change_n),
        time_points=[_pain_point_read(s, PainPoint(day), w) for day, w in TIME_POINTS.items()],
    )


def _pain_point_read(s: Sheet, k: PainPoint, width: int) -> schemas.PainPoint:
    return schemas.PainPoint(
        day=k.day,
        window_days=width,
        score=s.distribution(k.score, Counts.episodes),
        change=s.distribution(k.change, k.n),
        improved=s.rate(k.improved, k.change_n),
        pain_free=s.rate(k.pain_free, k.n),
        immpact_30=s.rate(k.immpact(30), k.reducible),
        immpact_50=s.rate(k.immpact(50), k.reducible),
        completeness=s.rate(k.complete, k.eligible),
    )


# --- analgesia ---------------------------------------------------------------------------------
def declare_analgesia(s: Sheet, c: Any, now_us: int) -> None:
    for name, day in POINT_DAYS:
        k = AnalgesiaPoint(name)
        counted = is_true(c[f"med_{name}"])
        if day:
            counted = and_(counted, c.t0_us <= now_us - (day + 1) * DAY_US)
        s.count("episodes", k.counted, counted)
        for measure in OMES:
            value = c[f"{measure}_{name}"]
            s.measure("episodes", k.ome(measure), value, counted)
            s.count(
                "episodes",
                k.ome_missing(measure),
                and_(counted, value.is_(None)),
                hidden=True,
                difference=(k.counted, n_of(k.ome(measure))),
            )
            s.add_sum(k.counted, [n_of(k.ome(measure)), k.ome_missing(measure)])
        free = c[f"opioid_free_{name}"]
        s.count("episodes", k.known, and_(counted, free.is_not(None)))
        s.count(
            "episodes",
            k.unknown,
            and_(counted, free.is_(None)),
            hidden=True,
            difference=(k.counted, k.known),
        )
        s.add_sum(k.counted, [k.known, k.unknown])
        known = and_(counted, free.is_not(None))
        binary(s, k.opioid_free, k.known, and_(counted, is_true(free)), known, implies=True)


def analgesia_read(s: Sheet) -> list[schemas.AnalgesiaPoint]:
    points = []
    for name, day in POINT_DAYS:
        k = AnalgesiaPoint(name)
        points.append(
            schemas.AnalgesiaPoint(
                day=day,
                counted=s.figure(k.counted),
                ome_mg_day=s.distribution(k.ome("ome"), k.counted),
                ome_mg_kg_day=s.distribution(k.ome("omekg"), k.counted),
                opioid_free=s.rate(k.opioid_free, k.known),
            )
        )
    return points


# --- scored measures ---------------------------------------------------------------------------
def declare_scored(s: Sheet, c: Any, k: Scored, column: str) -> None:
    s.measure("episodes", k.base, c[f"{column}_base"], None)
    for day in TIME_POINTS:
        s.measure("episodes", k.at(day), c[f"{column}_d{day}"], None)
        s.measure("episodes", k.change(day), c[f"{column}_change_d{day}"], None)


def scored_read(s: Sheet, k: Scored) -> schemas.Scored:
    return schemas.Scored(
        baseline=s.distribution(k.base, Counts.episodes),
        time_points=[
            schemas.ScorePoint(
                day=day,
                value=s.distribution(k.at(day), Counts.episodes),
                change=s.distribution(k.change(day), n_of(k.at(day))),
            )
            for day in TIME_POINTS
        ],
    )
