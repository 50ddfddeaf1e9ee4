"""What the outcomes dashboard shows, from the outcome statistics service (pure, no I/O).

Every chart is also a table (the same rows), which the page offers as CSV. Suppressed cells
(small counts under stats:read) stay empty: the service decides, the page only shows.
"""

from typing import Any

from app.outcomes.schemas import KaplanMeier, OutcomeStats, Rate, TrajectoryRead


def _rate(rate: Rate) -> dict[str, Any]:
    return {
        "n": rate.n,
        "denominator": rate.denominator,
        "percent": None if rate.proportion is None else round(100 * rate.proportion, 1),
        "suppressed": rate.suppressed,
    }


def _km(curve: KaplanMeier) -> list[dict[str, Any]]:
    return [
        {
            "day": p.day,
            "at_risk": p.at_risk,
            "survival": p.survival,
            "lower": p.lower,
            "upper": p.upper,
        }
        for p in curve.at
    ]


def view(stats: OutcomeStats, trajectory: TrajectoryRead) -> dict[str, Any]:
    pain = stats.pain
    return {
        "cohort": stats.cohort.model_dump(mode="json"),
        "patients": stats.counts.patients.value,
        "episodes": stats.counts.episodes.value,
        "clinical_success_2w": _rate(pain.clinical_success_2w),
        "trajectory": [
            {
                "start_day": p.start_day,
                "n": p.n,
                "mean": p.mean,
                "lower": p.lower,
                "upper": p.upper,
            }
            for p in trajectory.points
            if p.n
        ],
        "completeness": [{"day": p.day, **_rate(p.completeness)} for p in pain.time_points],
        "complications": [
            {"grade": grade, "count": figure.value}
            for grade, figure in stats.complications.by_sir_2017.items()
        ],
        "survival": _km(stats.survival),
        "recurrence": _km(stats.recurrence),
    }
