"""GET /stats/breakdown: a few headline figures per histology group, spinal region or level
count.

Histology groups and level count (the most levels treated in one session of the episode)
partition the cohort's episodes, and histology groups its patients: the groups add up to the
total, and complementary suppression runs across them. An episode can span regions, so region
groups overlap and are not additive.

A group's name is published as is, so it only ever comes from a closed vocabulary: the ICCC-3
codes the sender gave (app.clinical.enums.HistologyGroup), `not_recorded`, the regions, the level
counts. Never the free-text histology, which can hold anything typed into it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, func, literal, not_, true
from sqlalchemy.sql.elements import ColumnElement

from app.clinical.dialect import DAY_US
from app.clinical.enums import HistologyGroup
from app.clinical.levels import Region
from app.outcomes import cohort_sql, queries, schemas
from app.outcomes.cohort import Cohort
from app.outcomes.sheet import Sheet

LEVEL_GROUPS = ("0", "1", "2", "3", "4", "5+")
NOT_RECORDED = "not_recorded"  # no histology group; not XII, a group of its own
HISTOLOGY_ORDER = {
    name: i for i, name in enumerate((*(g.value for g in HistologyGroup), NOT_RECORDED))
}
TOTAL = "total"
MEASURES = ("baseline_pain", "pain_d14", "pain_d30")
RATES = (("success", "both"), ("complete", "eligible"), ("free", "known"))
ADDITIVE = (
    "episodes",
    "sessions",
    *(f"{m}.n" for m in MEASURES),
    "success",
    "success.not",
    "both",
    "eligible",
    "complete",
    "complete.not",
    "known",
    "free",
    "free.not",
)


class Dimension(StrEnum):
    histology = "histology"
    region = "region"
    level_count = "level_count"


@dataclass(frozen=True)
class _Part:
    source: Any
    group: ColumnElement[Any] | None  # None: the whole source is the group `name`
    name: str = TOTAL


def _specs(src: Any, now_us: int) -> tuple[list[queries.Count], list[queries.Measure]]:
    c = src.c
    base, d14, d30 = c.pain_base, c.pain_d14, c.pain_d30
    both = and_(base.is_not(None), d14.is_not(None))
    improved = c.improved_d14 == true()
    eligible = and_(c.window_d14 == true(), c.t0_us < now_us - 18 * DAY_US)
    counted = and_(c.med_d30 == true(), c.t0_us <= now_us - 31 * DAY_US)
    known = and_(counted, c.opioid_free_d30.is_not(None))
    free = c.opioid_free_d30 == true()
    counts = [
        queries.Count("patients", distinct=c.patient_id),
        queries.Count("episodes"),
        queries.Count("sessions", total=c.n_sessions),
        *(
            queries.Count(f"{name}.n", column.is_not(None))
            for name, column in zip(MEASURES, (base, d14, d30), strict=True)
        ),
        queries.Count("success", and_(both, improved)),
        queries.Count("success.not", and_(both, not_(improved))),
        queries.Count("both", both),
        queries.Count("eligible", eligible),
        queries.Count("complete", and_(eligible, d14.is_not(None))),
        queries.Count("complete.not", and_(eligible, d14.is_(None))),
        queries.Count("known", known),
        queries.Count("free", and_(known, free)),
        queries.Count("free.not", and_(known, not_(free))),
    ]
    measures = [
        queries.Measure(name, column)
        for name, column in zip(MEASURES, (base, d14, d30), strict=True)
    ]
    return counts, measures


def _parts(cohort: Cohort, by: Dimension, time_zone: str) -> list[_Part]:
    src = cohort_sql.episodes(cohort, time_zone)
    parts = [_Part(src, None)]
    if by is Dimension.region:
        for region in Region:
            if cohort.regions and region.value not in cohort.regions:
                continue
            narrowed = Cohort(**{**cohort.__dict__, "regions": (region.value,)})
            parts.append(_Part(cohort_sql.episodes(narrowed, time_zone), None, region.value))
    elif by is Dimension.histology:
        parts.append(_Part(src, func.coalesce(src.c.histology_group, literal(NOT_RECORDED))))
    else:
        levels = case(
            *((src.c.max_levels == int(g), g) for g in LEVEL_GROUPS[:-1]),
            else_=LEVEL_GROUPS[-1],
        )
        parts.append(_Part(src, levels))
    return parts


async def breakdown_sheet(
    run: cohort_sql.Runner,
    cohort: Cohort,
    now_us: int,
    by: Dimension,
    k: int | None,
) -> dict[str, Any]:
    sheet = Sheet(k)
    groups: list[str] = []
    for part in _parts(cohort, by, run.dialect.time_zone):
        counts, measures = _specs(part.source, now_us)
        found = await queries.aggregate(run, part.source, counts, measures, group=part.group)
        patients: dict[Any, dict[str, int]] = {}
        if k is not None:
            conditions = {c.key: c.where for c in counts}
            patients = await queries.distinct_patients(
                run, part.source, part.source.c.patient_id, conditions, group=part.group
            )
        for key, agg in sorted(found.items(), key=lambda kv: _order(by, kv[0])):
            name = part.name if part.group is None else str(key)
            if part.group is not None or name != TOTAL:
                groups.append(name)
            _record(sheet, name, agg, patients.get(key, {}))
    if by is not Dimension.region:
        for key in (*ADDITIVE, *(("patients",) if by is Dimension.histology else ())):
            sheet.add_sum(f"{TOTAL}.{key}", [f"{g}.{key}" for g in groups])
    sheet.finish()
    return {
        "disclosure": sheet.disclosure(),
        "additive": by is not Dimension.region,
        "total": _row(sheet, TOTAL),
        "groups": [_row(sheet, g) for g in groups],
    }


def _order(by: Dimension, key: Any) -> tuple[int, str]:
    """Histology groups I to XII, then not_recorded; other groups by name."""
    return (HISTOLOGY_ORDER.get(key, 0), "") if by is Dimension.histology else (0, str(key))


def _record(sheet: Sheet, name: str, agg: queries.Aggregate, patients: dict[str, int]) -> None:
    for key, value in agg.counts.items():
        full = f"{name}.{key}"
        sheet.values[full] = value
        if sheet.k is not None:
            sheet.patients[full] = value if key == "patients" else patients.get(key, 0)
    for key, dist in agg.distributions.items():
        sheet.distributions[f"{name}.{key}"] = dist
        sheet.stat(f"{name}.{key}", f"{name}.{key}.n")
    for hidden in ("success.not", "complete.not", "free.not"):
        sheet.hidden.add(f"{name}.{hidden}")
    for numerator, denominator in RATES:
        sheet.add_sum(f"{name}.{denominator}", [f"{name}.{numerator}", f"{name}.{numerator}.not"])
        sheet.ratio(f"{name}.{numerator}", f"{name}.{denominator}")


def _row(sheet: Sheet, name: str) -> schemas.BreakdownRow:
    def rate(pair: Sequence[str]) -> schemas.Rate:
        return sheet.rate(f"{name}.{pair[0]}", f"{name}.{pair[1]}")

    return schemas.BreakdownRow(
        group=name,
        patients=sheet.figure(f"{name}.patients"),
        episodes=sheet.figure(f"{name}.episodes"),
        sessions=sheet.figure(f"{name}.sessions"),
        baseline_pain=sheet.distribution(f"{name}.baseline_pain", f"{name}.episodes"),
        pain_d14=sheet.distribution(f"{name}.pain_d14", f"{name}.episodes"),
        clinical_success_2w=rate(RATES[0]),
        completeness_d14=rate(RATES[1]),
        pain_d30=sheet.distribution(f"{name}.pain_d30", f"{name}.episodes"),
        opioid_free_d30=rate(RATES[2]),
    )
