"""The event figures of GET /stats/outcomes: complications, the Kaplan-Meier curves
(recurrence, survival) and the imaging triggers; declared over the cohort's summary rows,
read back as schemas; keys from app.outcomes.figure_keys."""

from typing import Any

from sqlalchemy import and_, func, not_

from app.outcomes import km, schemas
from app.outcomes.definitions import (
    CIRSE_GRADES,
    LEAKAGE_SITES,
    MAJOR_SIR,
    SIR_2017_GRADES,
    SIR_GRADES,
)
from app.outcomes.figure_keys import (
    Complications,
    Counts,
    Curve,
    FigureKey,
    Grading,
    Triggers,
    leakage,
)
from app.outcomes.pain_figures import is_true
from app.outcomes.sheet import Sheet

KM_DAYS = (30, 90, 180, 365)
GRADINGS: tuple[tuple[Grading, tuple[str, ...]], ...] = (
    ("sir", SIR_GRADES),
    ("sir2017", SIR_2017_GRADES),
    ("cirse", CIRSE_GRADES),
)
KmRows = list[tuple[int, int, int]]  # (day, observations ending that day, events)


# --- Kaplan-Meier ------------------------------------------------------------------------------
def declare_kaplan_meier(s: Sheet, c: Any, curve: Curve, day_column: str, event: str) -> None:
    """The curve's counts are summed from its Kaplan-Meier rows (`give_km_counts`)."""
    day, happened = c[day_column], c[event]
    if curve.n != Counts.episodes:
        s.count("episodes", curve.n, day.is_not(None), given=True)
    s.count("episodes", curve.events, and_(day.is_not(None), is_true(happened)), given=True)
    s.count(
        "episodes",
        curve.censored,
        and_(day.is_not(None), not_(is_true(happened))),
        difference=(curve.n, curve.events),
    )
    s.add_sum(curve.n, [curve.events, curve.censored])
    s.stat(curve.median, curve.n)
    for t in KM_DAYS:
        s.count("episodes", curve.at_risk(t), day >= t, given=True)
        s.stat(curve.at(t), curve.at_risk(t))


def give_km_counts(s: Sheet, curve: Curve, rows: KmRows) -> None:
    """The curve's n (when not the episodes), events and numbers at risk, from its rows: the
    same rows the SQL counts would see."""
    if curve.n != Counts.episodes:
        s.give(curve.n, sum(ended for _, ended, _ in rows))
    s.give(curve.events, sum(events for _, _, events in rows))
    for t in KM_DAYS:
        s.give(curve.at_risk(t), sum(ended for day, ended, _ in rows if day >= t))


def km_read(s: Sheet, curve: Curve, rows: KmRows) -> schemas.KaplanMeier:
    fit = km.estimate(rows)
    hide_median = s.why(curve.median)
    low, high = fit.median_ci
    points = []
    for t in KM_DAYS:
        point = fit.at(t)
        why = s.why(curve.at(t), curve.at_risk(t))
        shown = s.why(curve.at(t)) is None
        points.append(
            schemas.SurvivalPoint(
                day=t,
                at_risk=s.value(curve.at_risk(t)),
                survival=point.survival if shown else None,
                lower=point.lower if shown else None,
                upper=point.upper if shown else None,
                suppressed=why,
                ci_undefined=km.CI_UNDEFINED
                if shown and point.survival is not None and point.lower is None
                else None,
            )
        )
    return schemas.KaplanMeier(
        n=s.figure(curve.n),
        events=s.figure(curve.events),
        censored=s.figure(curve.censored),
        median_days=None if hide_median else fit.median,
        median_lower=None if hide_median else low,
        median_upper=None if hide_median else high,
        median_suppressed=hide_median,
        median_ci_undefined=None if hide_median or not fit.median_ci_undefined else km.CI_UNDEFINED,
        at=points,
    )


# --- complications -----------------------------------------------------------------------------
def declare_complications(s: Sheet, c: Any) -> None:
    def count(key: FigureKey, column: str, **extra: Any) -> FigureKey:
        """A count of complications: summed over the cohort's episodes (NULL: none)."""
        s.count(
            "episodes",
            key,
            c[column] > 0,
            total=c[column],
            bound=c.patient_complications,
            positive=True,
            **extra,
        )
        return key

    total = count(Complications.total, "cx_total")
    s.ratio(total, Counts.sessions)
    s.ratio(count(Complications.sessions_with, "cx_sessions"), Counts.sessions)
    s.ratio(count(Complications.level_linked, "cx_level_linked"), Counts.level_treatments)
    s.ratio(count(Complications.levels_with, "cx_levels"), Counts.level_treatments)
    for grading, grades in GRADINGS:
        keys = [count(Complications.grade(grading, g), f"cx_{grading}_{g.lower()}") for g in grades]
        s.add_sum(total, keys)
    s.ratio(count(Complications.major, "cx_major"), Counts.sessions)
    s.add_sum(Complications.major, [Complications.grade("sir", x) for x in MAJOR_SIR])
    count(Complications.symptomatic, "cx_symptomatic")
    s.count(
        "episodes",
        Complications.asymptomatic,
        func.coalesce(c.cx_total, 0) > func.coalesce(c.cx_symptomatic, 0),
        difference=(total, Complications.symptomatic),
    )
    s.add_sum(total, [Complications.symptomatic, Complications.asymptomatic])
    s.ratio(Complications.symptomatic, total)
    s.ratio(Complications.asymptomatic, total)


def complications_read(s: Sheet) -> schemas.Complications:
    def grades(grading: Grading, values: tuple[str, ...]) -> dict[str, schemas.Figure]:
        return {v: s.figure(Complications.grade(grading, v)) for v in values}

    per_level = Counts.level_treatments
    return schemas.Complications(
        total=s.figure(Complications.total),
        per_session=s.rate(Complications.total, Counts.sessions),
        sessions_with=s.rate(Complications.sessions_with, Counts.sessions),
        per_level=s.rate(Complications.level_linked, per_level),
        levels_with=s.rate(Complications.levels_with, per_level),
        major=s.rate(Complications.major, Counts.sessions),
        symptomatic=s.rate(Complications.symptomatic, Complications.total),
        asymptomatic=s.rate(Complications.asymptomatic, Complications.total),
        by_sir_classic=grades("sir", SIR_GRADES),
        by_sir_2017=grades("sir2017", SIR_2017_GRADES),
        by_cirse=grades("cirse", CIRSE_GRADES),
        cement_leakage={site: s.rate(leakage(site), per_level) for site in LEAKAGE_SITES},
    )


# --- imaging triggers --------------------------------------------------------------------------
def declare_triggers(s: Sheet, c: Any, rules: tuple[str, ...]) -> None:
    # one patient adds at most (its episodes) x (the most triggers of one of them)
    bound = c.n_all * c.patient_episodes
    for rule in rules:
        n = c[f"n_{rule}"]
        s.count("triggers", Triggers.rule(rule), n > 0, total=n, bound=bound, positive=True)
    s.count("triggers", Triggers.episodes_with)  # a row per episode with a trigger
    s.ratio(Triggers.episodes_with, Counts.episodes)


def triggers_read(s: Sheet, rules: tuple[str, ...]) -> schemas.Triggers:
    return schemas.Triggers(
        by_rule={r: s.figure(Triggers.rule(r)) for r in rules},
        episodes_with=s.rate(Triggers.episodes_with, Counts.episodes),
    )
