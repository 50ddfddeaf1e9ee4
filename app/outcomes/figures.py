"""The figures of GET /stats/outcomes: declared as SQL over the cohort, read back as schemas.

Definitions (clinical-rules.md section 4), per episode of the cohort, by family: the counts and the
imaging triggers' grain here; pain, analgesia and the scored measures in
app.outcomes.pain_figures; complications, Kaplan-Meier curves and the triggers' figures in
app.outcomes.event_figures. Every key is app.outcomes.figure_keys'. Windows and "day d after
t0" are elapsed time; the day of death is a clinical day.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, not_, select, true

from app.clinical.definitions import Definitions
from app.clinical.dialect import Dialect
from app.clinical.enums import TriggerRule, TriggerStatus
from app.models import ImagingTrigger
from app.outcomes import cohort_sql, schemas
from app.outcomes import event_figures as events
from app.outcomes import pain_figures as pain
from app.outcomes.cohort import Cohort
from app.outcomes.definitions import LEAKAGE_SITES
from app.outcomes.figure_keys import (
    RECURRENCE,
    SURVIVAL,
    Counts,
    FigureKey,
    Scored,
    leakage,
    n_of,
)
from app.outcomes.sheet import Sheet

TRIGGER_RULES = tuple(rule.value for rule in TriggerRule)
SCORED = ((Scored("performance"), "ps"), (Scored("function_odi"), "odi"))
CURVES = (
    (RECURRENCE, "recurrence_day", "recurrence_event"),
    (SURVIVAL, "survival_day", "survival_event"),
)

it = ImagingTrigger.__table__


def _trigger_counts() -> list[Any]:
    return [
        *(func.count().filter(it.c.rule == rule).label(f"n_{rule}") for rule in TRIGGER_RULES),
        func.count().label("n_all"),
    ]


def episode_triggers(cohort: Cohort, src: Any, *, by_key: bool, time_zone: str) -> Any:
    """Per episode of the cohort (`src`) with imaging triggers (not superseded): how many of
    each rule, and in all; with its patient and the patient's episodes (the suppression's
    bounds). `by_key` (PostgreSQL; for a cohort no index narrows): from the triggers, each one's
    episode looked up by its key, about a tenth of the rows a scan of the cohort reads (half
    the time at 100k patients; a narrow cohort is cheaper read from its index and joined)."""
    live = it.c.status != TriggerStatus.superseded.value
    if not by_key:
        keys = (src.c.episode_key, src.c.patient_id, src.c.patient_episodes)
        return (
            select(*keys, *_trigger_counts())
            .join_from(src, it, and_(it.c.episode_key == src.c.episode_key, live))
            .group_by(*keys)
            .subquery("episode_triggers")
        )
    counts = (
        select(it.c.episode_key, *_trigger_counts())
        .where(live)
        .group_by(it.c.episode_key)
        .subquery("trigger_counts")
    )
    episode = (
        select(cohort_sql.e.c.patient_id, cohort_sql.e.c.patient_episodes)
        .where(
            cohort_sql.e.c.episode_key == counts.c.episode_key,
            *cohort_sql.cohort_filter(cohort, time_zone),
        )
        .limit(1)  # the key is unique; the limit keeps the lookup from becoming a join
        .lateral("trigger_episode")
    )
    return (
        select(counts, episode.c.patient_id, episode.c.patient_episodes)
        .select_from(counts.join(episode, true()))
        .subquery("episode_triggers")
    )


@dataclass
class OutcomeFigures:
    cohort: Cohort
    defs: Definitions
    dialect: Dialect
    now_us: int
    sheet: Sheet
    km_rows: dict[str, events.KmRows] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.src = cohort_sql.episodes(self.cohort, self.dialect.time_zone)
        self.sheet.grain("episodes", self.src, self.src.c.patient_id, self.src.c.patient_episodes)
        # the imaging triggers, a grain of their own: joined to the episode figures' scan, they
        # made it project every column it reads through the join (a fifth of its time at 100k)
        cohort = self.cohort
        indexed = cohort.histology_groups or cohort.performed_from or cohort.performed_to
        by_key = self.dialect.postgres and not indexed
        self.triggers = episode_triggers(
            self.cohort, self.src, by_key=by_key, time_zone=self.dialect.time_zone
        )
        t = self.triggers.c
        self.sheet.grain("triggers", self.triggers, t.patient_id, t.patient_episodes)

    # --- declaring -------------------------------------------------------------------------
    def declare(self) -> None:
        s, c = self.sheet, self.src.c
        self._counts()
        pain.declare_pain(s, c, self.now_us)
        pain.declare_analgesia(s, c, self.now_us)
        for keys, column in SCORED:
            pain.declare_scored(s, c, keys, column)
        for curve, day_column, event_column in CURVES:
            events.declare_kaplan_meier(s, c, curve, day_column, event_column)
        events.declare_complications(s, c)
        events.declare_triggers(s, self.triggers.c, TRIGGER_RULES)

    def _counts(self) -> None:
        s, c = self.sheet, self.src.c
        s.count("episodes", Counts.episodes)
        s.count("episodes", Counts.sessions, total=c.n_sessions, patients_of=Counts.patients)
        s.count("episodes", Counts.staged_series, pain.is_true(c.staged))
        s.count(
            "episodes",
            Counts.single,
            not_(pain.is_true(c.staged)),
            hidden=True,
            difference=(Counts.episodes, Counts.staged_series),
        )
        s.add_sum(Counts.episodes, [Counts.staged_series, Counts.single])

        def levels(key: FigureKey, column: Any, **extra: Any) -> FigureKey:
            """A count of level treatments: summed over the cohort's episodes."""
            s.count(
                "episodes",
                key,
                column > 0,
                total=column,
                bound=c.patient_levels,
                positive=True,
                **extra,
            )
            return key

        levels(Counts.level_treatments, c.n_levels)
        levels(Counts.repeats, c.n_repeats)
        levels(
            Counts.first_treatments,
            c.n_levels - c.n_repeats,
            hidden=True,
            difference=(Counts.level_treatments, Counts.repeats),
        )
        s.add_sum(Counts.level_treatments, [Counts.repeats, Counts.first_treatments])
        s.ratio(Counts.repeats, Counts.level_treatments)
        s.stat(Counts.vertebrae_per_patient, n_of(Counts.vertebrae_per_patient))
        sites = []
        for site in LEAKAGE_SITES:
            sites.append(levels(leakage(site), c[f"leakage_{site}"]))
            s.ratio(leakage(site), Counts.level_treatments)
        s.add_sum(Counts.level_treatments, sites)

    def give_km_counts(self, km_rows: dict[str, events.KmRows]) -> None:
        """Each curve's counts, from its Kaplan-Meier rows (day, observations ending that
        day, events): the same rows the SQL counts would see."""
        self.km_rows.update(km_rows)
        for curve, _day, _event in CURVES:
            events.give_km_counts(self.sheet, curve, self.km_rows.get(curve.name, []))

    # --- reading ---------------------------------------------------------------------------
    def render(self) -> dict[str, Any]:
        s = self.sheet
        return {
            "counts": schemas.Counts(
                patients=s.figure(Counts.patients),
                episodes=s.figure(Counts.episodes),
                sessions=s.figure(Counts.sessions),
                level_treatments=s.figure(Counts.level_treatments),
                distinct_vertebrae=s.figure(Counts.distinct_vertebrae),
                vertebrae_per_patient=s.distribution(Counts.vertebrae_per_patient, Counts.patients),
                repeat_level_treatments=s.rate(Counts.repeats, Counts.level_treatments),
                staged_series=s.figure(Counts.staged_series),
            ),
            "pain": pain.pain_read(s),
            "analgesia": pain.analgesia_read(s),
            **{keys.name: pain.scored_read(s, keys) for keys, _column in SCORED},
            "complications": events.complications_read(s),
            **{
                curve.name: events.km_read(s, curve, self.km_rows.get(curve.name, []))
                for curve, _day, _event in CURVES
            },
            "imaging_triggers": events.triggers_read(s, TRIGGER_RULES),
        }
