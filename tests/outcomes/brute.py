"""Every figure of GET /stats/outcomes, a second way: plain Python over the generated rows.

Per episode it uses the pure definitions (app.clinical: episodes, baseline, nearest,
is_improved, the clinical day; app.triggers.rules.worsenings: rule B); the rest (medication
state, windows, Kaplan-Meier, quartiles) is written out here directly, row by row, without SQL.
"""

import math
import statistics
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from app.clinical.days import clinical_date, day_start, days_since
from app.clinical.definitions import TIME_POINTS, Definitions
from app.clinical.enums import PainSite
from app.clinical.episodes import Episode, ProcedureFact, build_episodes
from app.clinical.levels import region_of
from app.clinical.pain import PainFact, back_pain, baseline, is_improved, nearest
from app.outcomes.cohort import AGE_RANGES, Cohort
from app.outcomes.km import CI_UNDEFINED
from app.triggers.rules import worsenings
from tests.factories.synthetic import Registry

AUGMENTATION = {"vertebroplasty", "kyphoplasty"}
POINTS: list[tuple[str, int]] = [("base", 0), *((f"d{d}", d) for d in TIME_POINTS)]
KM_DAYS = (30, 90, 180, 365)
Z = 1.959963984540054


def quantile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    pos = p * (len(ordered) - 1)
    low = math.floor(pos)
    if pos == low:
        return float(ordered[low])
    return float(ordered[low] + (pos - low) * (ordered[low + 1] - ordered[low]))


def distribution(values: Sequence[float], denominator: int) -> dict[str, Any]:
    n = len(values)
    return {
        "n": n,
        "denominator": denominator,
        "mean": statistics.fmean(values) if n else None,
        "sd": statistics.stdev(values) if n >= 2 else None,
        "median": quantile(values, 0.5) if n else None,
        "q1": quantile(values, 0.25) if n else None,
        "q3": quantile(values, 0.75) if n else None,
        "suppressed": None,
    }


def rate(n: int, denominator: int) -> dict[str, Any]:
    return {
        "n": n,
        "denominator": denominator,
        "proportion": n / denominator if denominator else None,
        "suppressed": None,
    }


def figure(value: int) -> dict[str, Any]:
    return {"value": value, "suppressed": None}


@dataclass
class Ep:
    """One episode with every per-episode value the statistics aggregate."""

    episode: Episode
    patient: dict[str, Any]
    sessions: list[dict[str, Any]]
    levels: list[dict[str, Any]]  # with "repeat"
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def _repeats(procedures: list[dict[str, Any]], levels: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Level rows treating a vertebra an earlier procedure of the same class treated."""
    by_id = {p["id"]: p for p in procedures}

    def klass(kind: str) -> str:
        return "augmentation" if kind in AUGMENTATION else kind

    repeated = set()
    for row in levels:
        mine = by_id[row["procedure_id"]]
        mine_key = (mine["performed_at"], mine["id"].int)
        for other in levels:
            theirs = by_id[other["procedure_id"]]
            if (
                other["level"] == row["level"]
                and klass(theirs["kind"]) == klass(mine["kind"])
                and (theirs["performed_at"], theirs["id"].int) < mine_key
            ):
                repeated.add(row["id"])
                break
    return repeated


def _med_state(meds: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    latest: dict[str, dict[str, Any]] = {}
    for m in sorted(meds, key=lambda m: (m["occurred_at"], m["id"].int)):
        if m["occurred_at"] < at:
            latest[m["drug"]] = m
    active = [m for m in latest.values() if (m["medication_status"] or "active") == "active"]
    opioids = [m for m in active if m["is_opioid"] is True]
    unknown = [m for m in active if m["is_opioid"] is None]
    ome = None
    if not unknown and all(m["ome_mg_day"] is not None for m in opioids):
        ome = sum(float(m["ome_mg_day"]) for m in opioids)
    omekg = None
    weighed = any(m["weight_kg"] is not None and m["occurred_at"] < at for m in meds)
    if weighed and not unknown and all(m["ome_mg_kg_day"] is not None for m in opioids):
        omekg = sum(float(m["ome_mg_kg_day"]) for m in opioids)
    free = False if opioids else (None if unknown else True)
    return {"ome": ome, "omekg": omekg, "free": free}


def episodes_of(registry: Registry, defs: Definitions) -> list[Ep]:
    procedures: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for p in registry.procedures:
        procedures[p["patient_id"]].append(p)
    levels: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for lv in registry.levels:
        levels[lv["procedure_id"]].append(lv)
    events: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for e in registry.events:
        events[e["patient_id"]].append(e)
    zone = defs.time_zone
    out = []
    for patient in registry.patients:
        mine = procedures[patient["id"]]
        if not mine:
            continue
        my_levels = [lv for p in mine for lv in levels[p["id"]]]
        repeated = _repeats(mine, my_levels)
        evs = sorted(events[patient["id"]], key=lambda e: (e["occurred_at"], e["id"].int))

        def facts(kind: str, evs: list[dict[str, Any]] = evs) -> list[PainFact]:
            return [
                PainFact(e["occurred_at"], float(e["score"]), e["site"], e["id"])
                for e in evs
                if e["kind"] == kind and e["score"] is not None
            ]

        pains, ps, odi = facts("pain"), facts("performance"), facts("function")
        meds = [e for e in evs if e["kind"] == "medication"]
        contact = max([e["occurred_at"] for e in evs] + [p["performed_at"] for p in mine])
        death = patient["death_date"]
        built = build_episodes(
            ProcedureFact(
                p["id"],
                p["performed_at"],
                p["kind"],
                frozenset(lv["level"] for lv in levels[p["id"]]),
                p["series_id"],
                p.get("target_pain_site") or "back",
            )
            for p in mine
        )
        for episode in built:
            sessions = [next(p for p in mine if p["id"] == pid) for pid in episode.procedure_ids]
            ep_levels = [
                {**lv, "repeat": lv["id"] in repeated} for s in sessions for lv in levels[s["id"]]
            ]
            v: dict[str, Any] = {}
            # performance and ODI scores have no site: read them as the episode's own
            own = episode.target_site
            for name, scored in (
                ("pain", pains),
                ("ps", [replace(f, site=own) for f in ps]),
                ("odi", [replace(f, site=own) for f in odi]),
            ):
                base = baseline(episode, scored, defs)
                v[f"{name}_base"] = base.score if base else None
                for day, width in TIME_POINTS.items():
                    near = nearest(episode, scored, day, width)
                    v[f"{name}_d{day}"] = near.score if near else None
            for name, day in POINTS:
                at = episode.first_at if not day else episode.t0 + timedelta(days=day + 1)
                applicable = not day or (
                    (episode.ended_at is None or at <= episode.ended_at)
                    and (death is None or at <= day_start(death, zone))
                )
                known = any(m["occurred_at"] < at for m in meds)
                v[f"med_{name}"] = applicable and known
                v[f"at_{name}"] = at
                state = _med_state(meds, at)
                v[f"ome_{name}"], v[f"omekg_{name}"] = state["ome"], state["omekg"]
                v[f"free_{name}"] = state["free"]
            for day, width in TIME_POINTS.items():
                closes = episode.t0 + timedelta(days=day + width)
                v[f"closes_d{day}"] = closes
                v[f"window_d{day}"] = (episode.ended_at is None or closes < episode.ended_at) and (
                    death is None or closes < day_start(death, zone)
                )
            # recurrence is rule B's: back pain against the back-pain baseline
            back_base = baseline(episode, pains, defs, PainSite.back)
            inside = [s for s in back_pain(pains) if episode.contains(s.occurred_at)]
            if back_base is None or not any(
                is_improved(back_base.score, s.score, defs) for s in inside
            ):
                v["rec"] = None  # no baseline, or never improved: not at risk of recurrence
            else:
                fired = worsenings(episode, pains, defs)
                if fired:
                    v["rec"] = (days_since(fired[0].due_at, episode.t0, zone), True)
                elif inside:
                    v["rec"] = (days_since(inside[-1].occurred_at, episode.t0, zone), False)
                else:
                    v["rec"] = (0, False)
            if death is not None and episode.ended_at is None:
                v["surv"] = (days_since(death, episode.t0, zone), True)
            elif episode.ended_at is not None:
                v["surv"] = (days_since(episode.ended_at, episode.t0, zone), False)
            else:
                v["surv"] = (days_since(max(contact, episode.t0), episode.t0, zone), False)
            out.append(Ep(episode, patient, sessions, ep_levels, v))
    return out


def in_cohort(ep: Ep, c: Cohort, zone: str) -> bool:
    e, p, first = ep.episode, ep.patient, ep.sessions[0]
    if c.histology_groups and p["histology_group"] not in c.histology_groups:
        return False
    if c.age_bands:
        born = p["birth_date"]
        age = None if born is None else rules_age(born, clinical_date(e.first_at, zone))
        if age is None or not any(_in_band(age, *AGE_RANGES[b]) for b in c.age_bands):
            return False
    first_day = clinical_date(e.first_at, zone)
    checks: list[tuple[Any, Callable[[], bool]]] = [
        (c.sex, lambda: p["sex"] in c.sex),
        (c.kinds, lambda: e.kind in c.kinds),
        (c.indications, lambda: first["indication"] in c.indications),
        (c.performed_from, lambda: first_day >= (c.performed_from or date.min)),
        (c.performed_to, lambda: first_day <= (c.performed_to or date.max)),
        (c.regions, lambda: bool(set(c.regions) & {region_of(lv["level"]) for lv in ep.levels})),
        (c.staged is not None, lambda: (e.key not in e.procedure_ids) == c.staged),
        (c.repeat is not None, lambda: any(lv["repeat"] for lv in ep.levels) == c.repeat),
    ]
    if any(active and not test() for active, test in checks):
        return False
    widest = max((per_session(ep).values()), default=0)
    if c.levels_min is not None and widest < c.levels_min:
        return False
    return not (c.levels_max is not None and widest > c.levels_max)


def _in_band(age: int, low: int, high: int | None) -> bool:
    return age >= low and (high is None or age <= high)


def per_session(ep: Ep) -> dict[uuid.UUID, int]:
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for lv in ep.levels:
        counts[lv["procedure_id"]] += 1
    return counts


def rules_age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def kaplan_meier(times: Iterable[tuple[int, bool]], n_key: dict[str, Any]) -> dict[str, Any]:
    """Product-limit over individual (time, event) pairs, log-log Greenwood intervals."""
    obs = list(times)
    # (day, S, lower, upper) at event days; the bounds None where S = 0 (Greenwood undefined)
    curve: list[tuple[int, float, float | None, float | None]] = []
    s, v = 1.0, 0.0
    for day in sorted({d for d, _ in obs}):
        at_risk = sum(1 for d, _ in obs if d >= day)
        events = sum(1 for d, e in obs if d == day and e)
        if not events:
            continue
        s *= 1 - events / at_risk
        if at_risk > events:
            v += events / (at_risk * (at_risk - events))
        low: float | None
        high: float | None
        if s <= 0:
            low, high = None, None
        elif v == 0:
            low, high = s, s
        else:
            se = math.sqrt(v) / abs(math.log(s))
            low, high = s ** math.exp(Z * se), s ** math.exp(-Z * se)
        curve.append((day, s, low, high))

    def reached(i: int) -> tuple[int, float | None] | None:
        """The first event day whose value i is undefined or <= 0.5 (value i: S, lower, upper)."""
        for c in curve:
            value: float | None = c[i]
            if value is None or value <= 0.5:
                return c[0], value
        return None

    def first(i: int) -> int | None:
        hit = reached(i)
        return None if hit is None or hit[1] is None else hit[0]

    undefined_median_ci = any((hit := reached(i)) is not None and hit[1] is None for i in (2, 3))

    last = max((d for d, _ in obs), default=None)
    points = []
    for t in KM_DAYS:
        before = [c for c in curve if c[0] <= t]
        sv: float = before[-1][1] if before else 1.0
        lo, hi = (before[-1][2], before[-1][3]) if before else (1.0, 1.0)
        undefined = last is None or (t > last and sv > 0)
        points.append(
            {
                "day": t,
                "at_risk": sum(1 for d, _ in obs if d >= t),
                "survival": None if undefined else sv,
                "lower": None if undefined else lo,
                "upper": None if undefined else hi,
                "suppressed": None,
                "ci_undefined": CI_UNDEFINED if not undefined and lo is None else None,
            }
        )
    events = sum(1 for _, e in obs if e)
    return {
        "n": n_key,
        "events": figure(events),
        "censored": figure(len(obs) - events),
        "median_days": first(1),
        "median_lower": first(2),
        "median_upper": first(3),
        "median_suppressed": None,
        "median_ci_undefined": CI_UNDEFINED if undefined_median_ci else None,
        "at": points,
    }
