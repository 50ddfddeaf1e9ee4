"""What the case page shows, from the case service's CaseRead (pure functions, no I/O)."""

from datetime import datetime, timedelta
from typing import Any

from app.cases.schemas import CaseRead
from app.clinical.levels import LEVEL_REGION

# the follow-up table's columns, in order; a column is shown only when a row has a value
FOLLOW_UP_COLUMNS = (
    ("kind", "Kind"),
    ("scale", "Scale"),
    ("value", "Value"),
    ("score", "Score (0-10)"),
    ("site", "Site"),
    ("drug", "Drug"),
    ("dose", "Dose"),
    ("dose_unit", "Unit"),
    ("route", "Route"),
    ("doses_per_day", "Doses/day"),
    ("medication_status", "Status"),
    ("ome_mg_day", "OME mg/day"),
    ("modality", "Modality"),
    ("treatment_type", "Treatment"),
    ("finding", "Finding"),
    ("note", "Note"),
)
# C1-L5, without the variant T13 and L6 (drawn only when treated)
VARIANTS = ("T13", "L6")
SPINE = [level for level in LEVEL_REGION if not level.startswith("S")]


def _iso(at: datetime) -> str:
    return at.isoformat()


def identifiers(case: CaseRead) -> list[dict[str, Any]]:
    """The patient's identifiers as the API would show them to the caller: none unless the
    request's credential may see identifiers (the serializer reads app.auth.visibility)."""
    shown: list[dict[str, Any]] = case.patient.model_dump(mode="json")["identifiers"]
    return shown


def follow_up_table(case: CaseRead) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """The columns with at least one value, and the rows (occurred_at first)."""
    rows = [e.model_dump(mode="json") for e in case.timeline]
    columns = [
        (k, title) for k, title in FOLLOW_UP_COLUMNS if any(r.get(k) is not None for r in rows)
    ]
    return columns, rows


def chart_data(case: CaseRead) -> dict[str, Any]:
    """The timeline chart's series: pain scores by site, OME per day, procedure and trigger
    markers, and the protocol windows of each episode (t0 + day +/- half-width)."""
    pain = [
        {"at": _iso(e.occurred_at), "score": e.score, "site": e.site}
        for e in case.timeline
        if e.kind == "pain" and e.score is not None and e.site in ("back", "leg")
    ]
    ome = [
        {"at": _iso(e.occurred_at), "ome": e.ome_mg_day}
        for e in case.timeline
        if e.kind == "medication" and e.ome_mg_day is not None
    ]
    procedures = [
        {
            "at": _iso(p.performed_at),
            "label": f"{p.kind} {' '.join(lv.level for lv in p.levels)}".strip(),
        }
        for p in case.procedures
    ]
    triggers = [
        {"at": _iso(t.due_at), "label": f"{t.rule} ({t.status})"} for t in case.imaging_triggers
    ]
    windows = []
    for episode in case.episodes:
        t0 = episode.t0
        for point in episode.trajectory:
            windows.append(
                {
                    "day": point.day,
                    "from": _iso(t0 + timedelta(days=point.day - point.window_days)),
                    "to": _iso(t0 + timedelta(days=point.day + point.window_days)),
                }
            )
    return {
        "pain": pain,
        "ome": ome,
        "procedures": procedures,
        "triggers": triggers,
        "windows": windows,
    }


def spine(case: CaseRead) -> list[dict[str, Any]]:
    """Every vertebra C1-L5 with how many times it was treated (the spine diagram)."""
    treated: dict[str, int] = {}
    for p in case.procedures:
        for lv in p.levels:
            treated[lv.level] = treated.get(lv.level, 0) + 1
    return [
        {"level": level, "treated": treated.get(level, 0)}
        for level in SPINE
        if level not in VARIANTS or level in treated
    ]
