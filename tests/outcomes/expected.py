"""The expected body of GET /stats/outcomes (exact figures), from tests.outcomes.brute."""

from collections import defaultdict
from datetime import datetime
from typing import Any

from app.clinical.definitions import EPSILON, TIME_POINTS, Definitions
from app.clinical.pain import is_improved
from app.outcomes.cohort import Cohort
from tests.factories.synthetic import Registry
from tests.outcomes.brute import (
    POINTS,
    Ep,
    distribution,
    figure,
    in_cohort,
    kaplan_meier,
    rate,
)

LEAKAGE_SITES = (
    "none", "basivertebral_vein", "segmental_vein", "cortical_paravertebral", "intradiscal",
    "epidural", "foraminal",
)  # fmt: skip
SIR = ("A", "B", "C", "D", "E", "F")
SIR_2017 = ("mild", "moderate", "severe", "life_threatening", "death")
RULES = ("no_improvement", "follow_up_overdue", "worsening")


def expected(
    all_eps: list[Ep], registry: Registry, cohort: Cohort, now: datetime, defs: Definitions
) -> dict[str, Any]:
    eps = [ep for ep in all_eps if in_cohort(ep, cohort, defs.time_zone)]
    n_eps = len(eps)
    level_rows = [lv for ep in eps for lv in ep.levels]
    per_patient: dict[Any, set[str]] = defaultdict(set)
    for ep in eps:
        for lv in ep.levels:
            per_patient[ep.patient["id"]].add(lv["level"])
    vertebrae = [float(len(v)) for v in per_patient.values()]
    sessions = sum(len(ep.sessions) for ep in eps)
    counts = {
        "patients": figure(len({ep.patient["id"] for ep in eps})),
        "episodes": figure(n_eps),
        "sessions": figure(sessions),
        "level_treatments": figure(len(level_rows)),
        "distinct_vertebrae": figure(int(sum(vertebrae))),
        "vertebrae_per_patient": distribution(vertebrae, len({ep.patient["id"] for ep in eps})),
        "repeat_level_treatments": rate(sum(lv["repeat"] for lv in level_rows), len(level_rows)),
        "staged_series": figure(sum(ep.episode.key not in ep.episode.procedure_ids for ep in eps)),
    }
    base = [ep["pain_base"] for ep in eps if ep["pain_base"] is not None]
    points = []
    for day, width in TIME_POINTS.items():
        key = f"pain_d{day}"
        scored = [ep for ep in eps if ep[key] is not None]
        both = [ep for ep in scored if ep["pain_base"] is not None]
        reducible = [ep for ep in both if ep["pain_base"] > 0]

        def band(ep: Ep, cut: float, key: str = key) -> bool:
            base = ep["pain_base"]
            return bool(base - ep[key] >= cut * base - EPSILON)

        eligible = [ep for ep in eps if ep[f"window_d{day}"] and ep[f"closes_d{day}"] < now]
        points.append(
            {
                "day": day,
                "window_days": width,
                "score": distribution([ep[key] for ep in scored], n_eps),
                "change": distribution([ep[key] - ep["pain_base"] for ep in both], len(scored)),
                "improved": rate(
                    sum(is_improved(ep["pain_base"], ep[key], defs) for ep in both), len(both)
                ),
                "pain_free": rate(sum(ep[key] == 0 for ep in scored), len(scored)),
                "immpact_30": rate(sum(band(ep, 0.3) for ep in reducible), len(reducible)),
                "immpact_50": rate(sum(band(ep, 0.5) for ep in reducible), len(reducible)),
                "completeness": rate(sum(ep[key] is not None for ep in eligible), len(eligible)),
            }
        )
    d14 = points[1]
    pain = {
        "baseline": distribution(base, n_eps),
        "baseline_missing": rate(n_eps - len(base), n_eps),
        "clinical_success_2w": d14["improved"],
        "time_points": points,
    }
    analgesia = []
    for name, day in POINTS:
        counted = [ep for ep in eps if ep[f"med_{name}"] and (not day or ep[f"at_{name}"] <= now)]
        known = [ep for ep in counted if ep[f"free_{name}"] is not None]
        analgesia.append(
            {
                "day": day,
                "counted": figure(len(counted)),
                "ome_mg_day": distribution(
                    [ep[f"ome_{name}"] for ep in counted if ep[f"ome_{name}"] is not None],
                    len(counted),
                ),
                "ome_mg_kg_day": distribution(
                    [ep[f"omekg_{name}"] for ep in counted if ep[f"omekg_{name}"] is not None],
                    len(counted),
                ),
                "opioid_free": rate(sum(ep[f"free_{name}"] is True for ep in known), len(known)),
            }
        )
    return {
        "counts": counts,
        "pain": pain,
        "analgesia": analgesia,
        "performance": _scored(eps, "ps"),
        "function_odi": _scored(eps, "odi"),
        "complications": _complications(eps, registry, sessions, len(level_rows), level_rows),
        "recurrence": kaplan_meier(
            (ep["rec"] for ep in eps if ep["rec"] is not None),
            figure(sum(ep["rec"] is not None for ep in eps)),
        ),
        "survival": kaplan_meier((ep["surv"] for ep in eps), figure(n_eps)),
        "imaging_triggers": _triggers(eps, registry),
    }


def _scored(eps: list[Ep], name: str) -> dict[str, Any]:
    n = len(eps)
    points = []
    for day in TIME_POINTS:
        key = f"{name}_d{day}"
        scored = [ep for ep in eps if ep[key] is not None]
        both = [ep for ep in scored if ep[f"{name}_base"] is not None]
        points.append(
            {
                "day": day,
                "value": distribution([ep[key] for ep in scored], n),
                "change": distribution([ep[key] - ep[f"{name}_base"] for ep in both], len(scored)),
            }
        )
    base = [ep[f"{name}_base"] for ep in eps if ep[f"{name}_base"] is not None]
    return {"baseline": distribution(base, n), "time_points": points}


def _complications(
    eps: list[Ep], registry: Registry, sessions: int, levels: int, level_rows: list[Any]
) -> dict[str, Any]:
    mine = {s["id"] for ep in eps for s in ep.sessions}
    rows = [c for c in registry.complications if c["procedure_id"] in mine]
    total = len(rows)

    def grades(column: str, values: tuple[Any, ...]) -> dict[str, Any]:
        out = {str(v): figure(sum(c[column] == v for c in rows)) for v in values}
        out["ungraded"] = figure(sum(c[column] is None for c in rows))
        return out

    symptomatic = sum(bool(c["symptomatic"]) for c in rows)
    return {
        "total": figure(total),
        "per_session": rate(total, sessions),
        "sessions_with": rate(len({c["procedure_id"] for c in rows}), sessions),
        "per_level": rate(sum(c["level_id"] is not None for c in rows), levels),
        "levels_with": rate(
            len({c["level_id"] for c in rows if c["level_id"] is not None}), levels
        ),
        "major": rate(sum(c["sir_classic"] in ("C", "D", "E", "F") for c in rows), sessions),
        "symptomatic": rate(symptomatic, total),
        "asymptomatic": rate(total - symptomatic, total),
        "by_sir_classic": grades("sir_classic", SIR),
        "by_sir_2017": grades("sir_2017", SIR_2017),
        "by_cirse": grades("cirse_grade", tuple(range(1, 7))),
        "cement_leakage": {
            **{
                site: rate(sum(lv["leakage"] == site for lv in level_rows), levels)
                for site in LEAKAGE_SITES
            },
            "not_recorded": rate(sum(lv["leakage"] is None for lv in level_rows), levels),
        },
    }


def _triggers(eps: list[Ep], registry: Registry) -> dict[str, Any]:
    keys = {ep.episode.key for ep in eps}
    fired = [
        t for t in registry.triggers if t["episode_key"] in keys and t["status"] != "superseded"
    ]
    return {
        "by_rule": {r: figure(sum(t["rule"] == r for t in fired)) for r in RULES},
        "episodes_with": rate(len({t["episode_key"] for t in fired}), len(eps)),
    }
