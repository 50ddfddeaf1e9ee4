"""The figures of GET /stats/outcomes: declared as SQL over the cohort, read back as schemas.

Definitions (DOMAIN.md section 4), per episode of the cohort:
- improved: B - s >= 2 points or (B - s) / B >= 30 % (app.episodes.rules.is_improved);
- IMMPACT bands: (B - s) / B >= 30 % and >= 50 %, for B > 0;
- completeness at day d: a score in the window, among the episodes whose window
  [t0 + d - w, t0 + d + w] ended before now, before the day of death and before the episode;
- analgesia at day d: the state at the end of day d after t0 (before the first session for
  the baseline), counted once that moment has passed, inside the episode and before death,
  for the episodes with a medication history by then.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, not_, select, true
from sqlalchemy.sql.elements import ColumnElement

from app.episodes.rules import TIME_POINTS
from app.models import ImagingTrigger
from app.outcomes import km, queries, schemas
from app.outcomes.cohort import Cohort
from app.outcomes.definitions import (
    CIRSE_GRADES,
    LEAKAGE_SITES,
    MAJOR_SIR,
    SIR_2017_GRADES,
    SIR_GRADES,
    Definitions,
)
from app.outcomes.dialect import DAY_US, Dialect
from app.outcomes.sheet import Sheet

KM_DAYS = (30, 90, 180, 365)
POINT_DAYS: tuple[tuple[str, int], ...] = (("base", 0), *((f"d{d}", d) for d in TIME_POINTS))
TRIGGER_RULES = ("no_improvement", "follow_up_overdue", "worsening")

it = ImagingTrigger.__table__


def _trigger_counts() -> list[Any]:
    return [
        *(func.count().filter(it.c.rule == rule).label(f"n_{rule}") for rule in TRIGGER_RULES),
        func.count().label("n_all"),
    ]


def episode_triggers(cohort: Cohort, src: Any, *, by_key: bool) -> Any:
    """Per episode of the cohort (`src`) with imaging triggers (not superseded): how many of
    each rule, and in all; with its patient and the patient's episodes (the suppression's
    bounds). `by_key` (PostgreSQL; for a cohort no index narrows): from the triggers, each one's
    episode looked up by its key, about a tenth of the rows a scan of the cohort reads (half
    the time at 100k patients; a narrow cohort is cheaper read from its index and joined)."""
    live = it.c.status != "superseded"
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
        select(queries.e.c.patient_id, queries.e.c.patient_episodes)
        .where(queries.e.c.episode_key == counts.c.episode_key, *queries.cohort_filter(cohort))
        .limit(1)  # the key is unique; the limit keeps the lookup from becoming a join
        .lateral("trigger_episode")
    )
    return (
        select(counts, episode.c.patient_id, episode.c.patient_episodes)
        .select_from(counts.join(episode, true()))
        .subquery("episode_triggers")
    )


def _is(column: Any) -> ColumnElement[bool]:
    test: ColumnElement[bool] = column == true()
    return test


@dataclass
class OutcomeFigures:
    cohort: Cohort
    defs: Definitions
    dialect: Dialect
    now_us: int
    sheet: Sheet

    def __post_init__(self) -> None:
        self.src = queries.episodes(self.cohort)
        self.sheet.grain("episodes", self.src, self.src.c.patient_id, self.src.c.patient_episodes)
        # the imaging triggers, a grain of their own: joined to the episode figures' scan, they
        # made it project every column it reads through the join (a fifth of its time at 100k)
        cohort = self.cohort
        indexed = cohort.histology_groups or cohort.performed_from or cohort.performed_to
        by_key = self.dialect.postgres and not indexed
        self.triggers = episode_triggers(self.cohort, self.src, by_key=by_key)
        t = self.triggers.c
        self.sheet.grain("triggers", self.triggers, t.patient_id, t.patient_episodes)
        self.km_rows: dict[str, list[tuple[int, int, int]]] = {}

    # --- declaring -------------------------------------------------------------------------
    def declare(self) -> None:
        self._counts()
        self._pain()
        self._analgesia()
        for name, column in (("performance", "ps"), ("function_odi", "odi")):
            self._scored(name, column)
        self._kaplan_meier("recurrence", "recurrence_day", "recurrence_event", "recurrence.n")
        self._kaplan_meier("survival", "survival_day", "survival_event", "counts.episodes")
        self._complications()
        self._triggers()

    def _counts(self) -> None:
        s, c = self.sheet, self.src.c
        s.count("episodes", "counts.episodes")
        s.count("episodes", "counts.sessions", total=c.n_sessions, patients_of="counts.patients")
        s.count("episodes", "counts.staged_series", _is(c.staged))
        s.count(
            "episodes",
            "counts.single",
            not_(_is(c.staged)),
            hidden=True,
            difference=("counts.episodes", "counts.staged_series"),
        )
        s.add_sum("counts.episodes", ["counts.staged_series", "counts.single"])

        def levels(key: str, column: Any, **extra: Any) -> str:
            """A count of level treatments: summed over the cohort's episodes."""
            return s.count(
                "episodes",
                key,
                column > 0,
                total=column,
                bound=c.patient_levels,
                positive=True,
                **extra,
            )

        levels("counts.level_treatments", c.n_levels)
        levels("counts.repeats", c.n_repeats)
        levels(
            "counts.first_treatments",
            c.n_levels - c.n_repeats,
            hidden=True,
            difference=("counts.level_treatments", "counts.repeats"),
        )
        s.add_sum("counts.level_treatments", ["counts.repeats", "counts.first_treatments"])
        s.ratio("counts.repeats", "counts.level_treatments")
        s.stat("counts.vertebrae_per_patient", "counts.vertebrae_per_patient.n")
        sites = []
        for site in LEAKAGE_SITES:
            sites.append(levels(f"leakage.{site}", c[f"leakage_{site}"]))
            s.ratio(f"leakage.{site}", "counts.level_treatments")
        s.add_sum("counts.level_treatments", sites)

    def _binary(
        self,
        key: str,
        total: str,
        where: ColumnElement[bool],
        among: Any,
        *,
        implies: bool = False,
    ) -> None:
        """A count and its complement within `total` (rows `among`); declares the ratio.
        `implies`: `where` holds only among those rows (the count tests `where` alone)."""
        s = self.sheet
        s.count("episodes", key, where if implies else and_(among, where))
        s.count(
            "episodes",
            f"{key}.not",
            and_(among, not_(where)),
            hidden=True,
            difference=(total, key),
        )
        s.add_sum(total, [key, f"{key}.not"])
        s.ratio(key, total)

    def _pain(self) -> None:
        s, c = self.sheet, self.src.c
        base = c.pain_base
        s.measure("episodes", "pain.base", base, None)
        s.count(
            "episodes",
            "pain.baseline_missing",
            base.is_(None),
            difference=("counts.episodes", "pain.base.n"),
        )
        s.add_sum("counts.episodes", ["pain.base.n", "pain.baseline_missing"])
        s.ratio("pain.baseline_missing", "counts.episodes")
        for day, width in TIME_POINTS.items():
            score = c[f"pain_d{day}"]
            key = f"pain.d{day}"
            both = and_(base.is_not(None), score.is_not(None))
            s.measure("episodes", key, score, None)
            s.measure("episodes", f"{key}.change", c[f"pain_change_d{day}"], None)
            # improved_d and band_d are NULL unless there is a baseline and a score (and, for
            # the bands, a baseline above 0); score == 0 implies a score
            self._binary(
                f"{key}.improved",
                f"{key}.change.n",
                _is(c[f"improved_d{day}"]),
                both,
                implies=True,
            )
            self._binary(
                f"{key}.pain_free", f"{key}.n", score == 0, score.is_not(None), implies=True
            )
            reducible = and_(both, base > 0)
            s.count("episodes", f"{key}.reducible", reducible)
            for band in (30, 50):
                self._binary(
                    f"{key}.immpact{band}",
                    f"{key}.reducible",
                    _is(c[f"band{band}_d{day}"]),
                    reducible,
                    implies=True,
                )
            closes = (day + width) * DAY_US
            eligible = and_(_is(c[f"window_d{day}"]), c.t0_us < self.now_us - closes)
            s.count("episodes", f"{key}.eligible", eligible)
            self._binary(f"{key}.complete", f"{key}.eligible", score.is_not(None), eligible)

    def _analgesia(self) -> None:
        s, c = self.sheet, self.src.c
        for name, day in POINT_DAYS:
            key = f"analgesia.{name}"
            counted = _is(c[f"med_{name}"])
            if day:
                counted = and_(counted, c.t0_us <= self.now_us - (day + 1) * DAY_US)
            s.count("episodes", f"{key}.counted", counted)
            for measure in ("ome", "omekg"):
                value = c[f"{measure}_{name}"]
                s.measure("episodes", f"{key}.{measure}", value, counted)
                s.count(
                    "episodes",
                    f"{key}.{measure}.missing",
                    and_(counted, value.is_(None)),
                    hidden=True,
                    difference=(f"{key}.counted", f"{key}.{measure}.n"),
                )
                s.add_sum(f"{key}.counted", [f"{key}.{measure}.n", f"{key}.{measure}.missing"])
            free = c[f"opioid_free_{name}"]
            s.count("episodes", f"{key}.known", and_(counted, free.is_not(None)))
            s.count(
                "episodes",
                f"{key}.unknown",
                and_(counted, free.is_(None)),
                hidden=True,
                difference=(f"{key}.counted", f"{key}.known"),
            )
            s.add_sum(f"{key}.counted", [f"{key}.known", f"{key}.unknown"])
            known = and_(counted, free.is_not(None))
            self._binary(
                f"{key}.opioid_free", f"{key}.known", and_(counted, _is(free)), known, implies=True
            )

    def _scored(self, name: str, column: str) -> None:
        s, c = self.sheet, self.src.c
        base = c[f"{column}_base"]
        s.measure("episodes", f"{name}.base", base, None)
        for day in TIME_POINTS:
            s.measure("episodes", f"{name}.d{day}", c[f"{column}_d{day}"], None)
            s.measure("episodes", f"{name}.d{day}.change", c[f"{column}_change_d{day}"], None)

    def _kaplan_meier(self, name: str, day_column: str, event_column: str, n: str) -> None:
        """The curve's counts are summed from its Kaplan-Meier rows (`give_km_counts`)."""
        s, c = self.sheet, self.src.c
        day, event = c[day_column], c[event_column]
        if n != "counts.episodes":
            s.count("episodes", n, day.is_not(None), given=True)
        s.count("episodes", f"{name}.events", and_(day.is_not(None), _is(event)), given=True)
        s.count(
            "episodes",
            f"{name}.censored",
            and_(day.is_not(None), not_(_is(event))),
            difference=(n, f"{name}.events"),
        )
        s.add_sum(n, [f"{name}.events", f"{name}.censored"])
        s.stat(f"{name}.median", n)
        for t in KM_DAYS:
            s.count("episodes", f"{name}.at_risk.{t}", day >= t, given=True)
            s.stat(f"{name}.at.{t}", f"{name}.at_risk.{t}")

    def give_km_counts(self, km_rows: dict[str, list[tuple[int, int, int]]]) -> None:
        """Each curve's n (when not the episodes), events and numbers at risk, from its rows
        (day, observations ending that day, events): the same rows the SQL counts would see."""
        self.km_rows.update(km_rows)
        s = self.sheet
        for name, n in (("recurrence", "recurrence.n"), ("survival", None)):
            rows = self.km_rows.get(name, [])
            if n is not None:
                s.give(n, sum(ended for _, ended, _ in rows))
            s.give(f"{name}.events", sum(events for _, _, events in rows))
            for t in KM_DAYS:
                s.give(f"{name}.at_risk.{t}", sum(ended for day, ended, _ in rows if day >= t))

    def _complications(self) -> None:
        s, c = self.sheet, self.src.c

        def count(key: str, column: str, **extra: Any) -> str:
            """A count of complications: summed over the cohort's episodes (NULL: none)."""
            return s.count(
                "episodes",
                f"complications.{key}",
                c[column] > 0,
                total=c[column],
                bound=c.patient_complications,
                positive=True,
                **extra,
            )

        total = count("total", "cx_total")
        s.ratio(total, "counts.sessions")
        s.ratio(count("sessions_with", "cx_sessions"), "counts.sessions")
        s.ratio(count("level_linked", "cx_level_linked"), "counts.level_treatments")
        s.ratio(count("levels_with", "cx_levels"), "counts.level_treatments")
        for name, grades in (
            ("sir", SIR_GRADES),
            ("sir2017", SIR_2017_GRADES),
            ("cirse", CIRSE_GRADES),
        ):
            keys = [count(f"{name}.{g}", f"cx_{name}_{g.lower()}") for g in grades]
            s.add_sum(total, keys)
        s.ratio(count("major", "cx_major"), "counts.sessions")
        s.add_sum("complications.major", [f"complications.sir.{x}" for x in MAJOR_SIR])
        count("symptomatic", "cx_symptomatic")
        s.count(
            "episodes",
            "complications.asymptomatic",
            func.coalesce(c.cx_total, 0) > func.coalesce(c.cx_symptomatic, 0),
            difference=(total, "complications.symptomatic"),
        )
        s.add_sum(total, ["complications.symptomatic", "complications.asymptomatic"])
        s.ratio("complications.symptomatic", total)
        s.ratio("complications.asymptomatic", total)

    def _triggers(self) -> None:
        s, c = self.sheet, self.triggers.c
        # one patient adds at most (its episodes) x (the most triggers of one of them)
        bound = c.n_all * c.patient_episodes
        for rule in TRIGGER_RULES:
            n = c[f"n_{rule}"]
            s.count("triggers", f"triggers.{rule}", n > 0, total=n, bound=bound, positive=True)
        s.count("triggers", "triggers.episodes_with")  # a row per episode with a trigger
        s.ratio("triggers.episodes_with", "counts.episodes")

    # --- reading ---------------------------------------------------------------------------
    def render(self) -> dict[str, Any]:
        s = self.sheet
        return {
            "counts": schemas.Counts(
                patients=s.figure("counts.patients"),
                episodes=s.figure("counts.episodes"),
                sessions=s.figure("counts.sessions"),
                level_treatments=s.figure("counts.level_treatments"),
                distinct_vertebrae=s.figure("counts.distinct_vertebrae"),
                vertebrae_per_patient=s.distribution(
                    "counts.vertebrae_per_patient", "counts.patients"
                ),
                repeat_level_treatments=s.rate("counts.repeats", "counts.level_treatments"),
                staged_series=s.figure("counts.staged_series"),
            ),
            "pain": schemas.Pain(
                baseline=s.distribution("pain.base", "counts.episodes"),
                baseline_missing=s.rate("pain.baseline_missing", "counts.episodes"),
                clinical_success_2w=s.rate("pain.d14.improved", "pain.d14.change.n"),
                time_points=[self._pain_point(day, w) for day, w in TIME_POINTS.items()],
            ),
            "analgesia": [self._analgesia_point(name, day) for name, day in POINT_DAYS],
            "performance": self._scored_read("performance"),
            "function_odi": self._scored_read("function_odi"),
            "complications": self._complications_read(),
            "recurrence": self._km_read("recurrence", "recurrence.n"),
            "survival": self._km_read("survival", "counts.episodes"),
            "imaging_triggers": schemas.Triggers(
                by_rule={r: s.figure(f"triggers.{r}") for r in TRIGGER_RULES},
                episodes_with=s.rate("triggers.episodes_with", "counts.episodes"),
            ),
        }

    def _pain_point(self, day: int, width: int) -> schemas.PainPoint:
        s, key = self.sheet, f"pain.d{day}"
        return schemas.PainPoint(
            day=day,
            window_days=width,
            score=s.distribution(key, "counts.episodes"),
            change=s.distribution(f"{key}.change", f"{key}.n"),
            improved=s.rate(f"{key}.improved", f"{key}.change.n"),
            pain_free=s.rate(f"{key}.pain_free", f"{key}.n"),
            immpact_30=s.rate(f"{key}.immpact30", f"{key}.reducible"),
            immpact_50=s.rate(f"{key}.immpact50", f"{key}.reducible"),
            completeness=s.rate(f"{key}.complete", f"{key}.eligible"),
        )

    def _analgesia_point(self, name: str, day: int) -> schemas.AnalgesiaPoint:
        s, key = self.sheet, f"analgesia.{name}"
        return schemas.AnalgesiaPoint(
            day=day,
            counted=s.figure(f"{key}.counted"),
            ome_mg_day=s.distribution(f"{key}.ome", f"{key}.counted"),
            ome_mg_kg_day=s.distribution(f"{key}.omekg", f"{key}.counted"),
            opioid_free=s.rate(f"{key}.opioid_free", f"{key}.known"),
        )

    def _scored_read(self, name: str) -> schemas.Scored:
        s = self.sheet
        return schemas.Scored(
            baseline=s.distribution(f"{name}.base", "counts.episodes"),
            time_points=[
                schemas.ScorePoint(
                    day=day,
                    value=s.distribution(f"{name}.d{day}", "counts.episodes"),
                    change=s.distribution(f"{name}.d{day}.change", f"{name}.d{day}.n"),
                )
                for day in TIME_POINTS
            ],
        )

    def _complications_read(self) -> schemas.Complications:
        s = self.sheet

        def grades(name: str, values: tuple[str, ...]) -> dict[str, schemas.Figure]:
            return {v: s.figure(f"complications.{name}.{v}") for v in values}

        return schemas.Complications(
            total=s.figure("complications.total"),
            per_session=s.rate("complications.total", "counts.sessions"),
            sessions_with=s.rate("complications.sessions_with", "counts.sessions"),
            per_level=s.rate("complications.level_linked", "counts.level_treatments"),
            levels_with=s.rate("complications.levels_with", "counts.level_treatments"),
            major=s.rate("complications.major", "counts.sessions"),
            symptomatic=s.rate("complications.symptomatic", "complications.total"),
            asymptomatic=s.rate("complications.asymptomatic", "complications.total"),
            by_sir_classic=grades("sir", SIR_GRADES),
            by_sir_2017=grades("sir2017", SIR_2017_GRADES),
            by_cirse=grades("cirse", CIRSE_GRADES),
            cement_leakage={
                site: s.rate(f"leakage.{site}", "counts.level_treatments") for site in LEAKAGE_SITES
            },
        )

    def _km_read(self, name: str, n: str) -> schemas.KaplanMeier:
        s = self.sheet
        fit = km.estimate(self.km_rows.get(name, []))
        hide_median = s.why(f"{name}.median")
        low, high = fit.median_ci
        points = []
        for t in KM_DAYS:
            point = fit.at(t)
            why = s.why(f"{name}.at.{t}", f"{name}.at_risk.{t}")
            shown = s.why(f"{name}.at.{t}") is None
            points.append(
                schemas.SurvivalPoint(
                    day=t,
                    at_risk=s.value(f"{name}.at_risk.{t}"),
                    survival=point.survival if shown else None,
                    lower=point.lower if shown else None,
                    upper=point.upper if shown else None,
                    suppressed=why,
                )
            )
        return schemas.KaplanMeier(
            n=s.figure(n),
            events=s.figure(f"{name}.events"),
            censored=s.figure(f"{name}.censored"),
            median_days=None if hide_median else fit.median,
            median_lower=None if hide_median else low,
            median_upper=None if hide_median else high,
            median_suppressed=hide_median,
            at=points,
        )
