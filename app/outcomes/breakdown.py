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
from app.outcomes.figure_keys import Breakdown as B
from app.outcomes.figure_keys import BreakdownKey, FigureKey, in_group
from app.outcomes.sheet import Sheet
from app.outcomes.suppression import Reason

LEVEL_GROUPS = ("0", "1", "2", "3", "4", "5+")
NOT_RECORDED = "not_recorded"  # no histology group; not XII, a group of its own
HISTOLOGY_ORDER = {
    name: i for i, name in enumerate((*(g.value for g in HistologyGroup), NOT_RECORDED))
}
TOTAL = "total"
MEASURES = (B.baseline_pain, B.pain_d14, B.pain_d30)
RATES = ((B.success, B.both), (B.complete, B.eligible), (B.free, B.known))
ADDITIVE = (
    B.episodes,
    B.sessions,
    *(B.n(m) for m in MEASURES),
    B.success,
    B.not_(B.success),
    B.both,
    B.eligible,
    B.complete,
    B.not_(B.complete),
    B.known,
    B.free,
    B.not_(B.free),
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
        queries.Count(B.patients, distinct=c.patient_id),
        queries.Count(B.episodes),
        queries.Count(B.sessions, total=c.n_sessions),
        *(
            queries.Count(B.n(name), column.is_not(None))
            for name, column in zip(MEASURES, (base, d14, d30), strict=True)
        ),
        queries.Count(B.success, and_(both, improved)),
        queries.Count(B.not_(B.success), and_(both, not_(improved))),
        queries.Count(B.both, both),
        queries.Count(B.eligible, eligible),
        queries.Count(B.complete, and_(eligible, d14.is_not(None))),
        queries.Count(B.not_(B.complete), and_(eligible, d14.is_(None))),
        queries.Count(B.known, known),
        queries.Count(B.free, and_(known, free)),
        queries.Count(B.not_(B.free), and_(known, not_(free))),
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
    withheld: bool = False,
) -> dict[str, Any]:
    """`withheld` (stats:read, a cohort under the minimum, issue 16): every figure null and no
    group listed (which groups have patients is itself a figure)."""
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
        for key in (*ADDITIVE, *((B.patients,) if by is Dimension.histology else ())):
            sheet.add_sum(in_group(TOTAL, key), [in_group(g, key) for g in groups])
    sheet.finish()
    if withheld:
        total = f"{TOTAL}."
        shown = (n for n, c in sheet.cells().items() if c.shown and n.startswith(total))
        sheet.reasons = dict.fromkeys(shown, Reason.cohort_below_minimum)
        groups = []
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
    # the aggregate's keys are its specs' (_specs): Breakdown's
    for key, value in agg.counts.items():
        full = in_group(name, BreakdownKey(key))
        sheet.values[full] = value
        if sheet.k is not None:
            sheet.patients[full] = value if key == B.patients else patients.get(key, 0)
    for key, dist in agg.distributions.items():
        measure = BreakdownKey(key)
        sheet.distributions[in_group(name, measure)] = dist
        sheet.stat(in_group(name, measure), in_group(name, B.n(measure)))
    for numerator, denominator in RATES:
        parts = [in_group(name, numerator), in_group(name, B.not_(numerator))]
        sheet.hidden.add(parts[1])
        sheet.add_sum(in_group(name, denominator), parts)
        sheet.ratio(in_group(name, numerator), in_group(name, denominator))


def _row(sheet: Sheet, name: str) -> schemas.BreakdownRow:
    def key(figure: BreakdownKey) -> FigureKey:
        return in_group(name, figure)

    def rate(pair: Sequence[BreakdownKey]) -> schemas.Rate:
        return sheet.rate(key(pair[0]), key(pair[1]))

    return schemas.BreakdownRow(
        group=name,
        patients=sheet.figure(key(B.patients)),
        episodes=sheet.figure(key(B.episodes)),
        sessions=sheet.figure(key(B.sessions)),
        baseline_pain=sheet.distribution(key(B.baseline_pain), key(B.episodes)),
        pain_d14=sheet.distribution(key(B.pain_d14), key(B.episodes)),
        clinical_success_2w=rate(RATES[0]),
        completeness_d14=rate(RATES[1]),
        pain_d30=sheet.distribution(key(B.pain_d30), key(B.episodes)),
        opioid_free_d30=rate(RATES[2]),
    )
