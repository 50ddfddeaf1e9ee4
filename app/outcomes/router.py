"""/stats: aggregate outcome statistics for dashboards.

Every route takes `stats:read` (`StatsRead`, in its signature). A credential holding
`stats:research` gets exact figures; any other gets small cells suppressed.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.scopes import STATS_RESEARCH
from app.clinical.enums import HistologyGroup, Indication, ProcedureKind, Sex
from app.clinical.levels import Region
from app.db import SessionDep
from app.errors import RuleViolation, problem_responses
from app.http.csv import (
    FIGURE_COLUMNS,
    CsvFormat,
    csv_response,
    csv_responses,
    figures_csv,
    model_columns,
    wants_csv,
)
from app.http.guards import StatsRead
from app.outcomes import query_space, service
from app.outcomes.breakdown import Dimension
from app.outcomes.cohort import DEFAULT_KINDS, AgeBand, Cohort
from app.outcomes.schemas import BreakdownRead, OutcomeStats, TrajectoryPoint, TrajectoryRead

router = APIRouter(prefix="/stats", tags=["statistics"])

SUPPRESSION = (
    " Figures are exact for `stats:research`; for `stats:read` no count between 1 and k-1 "
    "(STATS_SUPPRESSION_K, default 5) and no figure from fewer than k patients is published, "
    "nor any figure that would let one be recomputed from a total (complementary "
    "suppression); `disclosure.suppressed` lists them with the reason. Residual risk: "
    "comparing two cohorts that differ by a few patients."
)


class Unit(StrEnum):
    day = "day"
    week = "week"
    month = "month"  # 30 days of elapsed time (app.outcomes.service.UNIT_DAYS)


def cohort_filters(
    histology: Annotated[
        list[HistologyGroup] | None,
        Query(
            description="The patient's ICCC-3 histology group, I-XII (see HistologyGroup); "
            "patients without one are left out. The free-text histology is no filter."
        ),
    ] = None,
    age_band: Annotated[
        list[AgeBand] | None,
        Query(description="Age at the first session: paediatric (< 18), adult, or a band."),
    ] = None,
    sex: Annotated[list[Sex] | None, Query()] = None,
    kind: Annotated[
        list[ProcedureKind] | None,
        Query(description="The first session's kind (default: vertebroplasty, kyphoplasty)."),
    ] = None,
    indication: Annotated[list[Indication] | None, Query()] = None,
    performed_from: Annotated[date | None, Query(description="First session on or after.")] = None,
    performed_to: Annotated[date | None, Query(description="First session on or before.")] = None,
    region: Annotated[
        list[Region] | None, Query(description="Treats a level in any of these regions.")
    ] = None,
    levels_min: Annotated[
        int | None, Query(ge=0, le=30, description="The most levels in one session, at least.")
    ] = None,
    levels_max: Annotated[int | None, Query(ge=0, le=30)] = None,
    staged: Annotated[
        bool | None, Query(description="true: staged series only; false: single sessions.")
    ] = None,
    repeat: Annotated[
        bool | None,
        Query(
            description="true: episodes treating a level the same kind of procedure treated "
            "before; false: first treatments only."
        ),
    ] = None,
    period: Annotated[
        str | None,
        Query(description="First session in a year (2024) or quarter (2024-Q3).", max_length=7),
    ] = None,
) -> Cohort:
    if period is not None:
        if performed_from or performed_to:
            raise RuleViolation("period", "period or performed_from/performed_to, not both.")
        performed_from, performed_to = query_space.period_dates(period)
    cohort = Cohort(
        histology_groups=tuple(h.value for h in histology or ()),
        age_bands=tuple(age_band or ()),
        sex=tuple(s.value for s in sex or ()),
        kinds=tuple(k.value for k in kind) if kind else DEFAULT_KINDS,
        indications=tuple(i.value for i in indication or ()),
        performed_from=performed_from,
        performed_to=performed_to,
        regions=tuple(r.value for r in region or ()),
        levels_min=levels_min,
        levels_max=levels_max,
        staged=staged,
        repeat=repeat,
        period=period,
    )
    return cohort


CohortDep = Annotated[Cohort, Depends(cohort_filters)]
# the trajectory as CSV (app.http.csv): a row per bucket
TRAJECTORY_COLUMNS = model_columns(
    TrajectoryPoint,
    units={"start_day": "days since t0 (a multiple of the unit)", "mean": "pain score 0-10"},
    descriptions={"n": "Episodes with a score in the bucket.", "lower": "95 % CI lower bound",
                  "upper": "95 % CI upper bound", "suppressed": "Why the figure is withheld."},
)  # fmt: skip


@router.get(
    "/outcomes",
    response_model=OutcomeStats,
    summary="Outcome statistics of a cohort of episodes",
    description="Counts, pain (baseline, trajectory, change, clinical success, pain-free, "
    "IMMPACT bands, follow-up completeness), analgesia (OME), performance status, ODI, "
    "complications, Kaplan-Meier recurrence and survival, imaging triggers. Each figure "
    "carries its n and denominator." + SUPPRESSION,
    responses={**problem_responses(422), **csv_responses(FIGURE_COLUMNS, "The figures")},
)
async def outcomes(
    session: SessionDep,
    principal: StatsRead,
    cohort: CohortDep,
    request: Request,
    format: CsvFormat = None,
) -> OutcomeStats | Response:
    stats = await service.outcome_stats(session, cohort, exact=principal.has(STATS_RESEARCH))
    return figures_csv(stats, "outcomes.csv") if wants_csv(request, format) else stats


@router.get(
    "/pain-trajectory",
    response_model=TrajectoryRead,
    summary="Mean pain (each episode's target site) per day or week since t0, with its 95 % CI",
    description="The pain scores of the site each episode targets (back or leg) inside the "
    "episode, averaged per episode and bucket, then "
    "across episodes (n: episodes). A regular grid: every bucket from day 0 to `max_day` "
    "(a day, a week, or a month of 30 days), an empty one with n = 0." + SUPPRESSION,
    responses={**problem_responses(422), **csv_responses(TRAJECTORY_COLUMNS, "The points")},
)
async def pain_trajectory(
    session: SessionDep,
    principal: StatsRead,
    cohort: CohortDep,
    request: Request,
    unit: Annotated[
        Unit | None, Query(description="Default: day (stats:research), week (stats:read).")
    ] = None,
    max_day: Annotated[int, Query(ge=0, le=3650)] = 365,
    format: CsvFormat = None,
) -> TrajectoryRead | Response:
    research = principal.has(STATS_RESEARCH)
    unit = unit or (Unit.day if research else Unit.week)  # stats:read: weeks only (issue 16)
    result = await service.pain_trajectory(
        session, cohort, exact=principal.has(STATS_RESEARCH), unit=unit.value, max_day=max_day
    )
    if wants_csv(request, format):
        return csv_response(TRAJECTORY_COLUMNS, result.points, "pain-trajectory.csv")
    return result


@router.get(
    "/breakdown",
    response_model=BreakdownRead,
    summary="Headline figures per histology group, spinal region or level count",
    description="Patients, episodes, sessions, baseline and day-14/30 pain, clinical success "
    "at 2 weeks, day-14 completeness and day-30 opioid-free rate, per group. Histology: per "
    "ICCC-3 group (I-XII, in that order), then `not_recorded` (patients without one); never "
    "per free-text histology." + SUPPRESSION,
    responses={**problem_responses(422), **csv_responses(FIGURE_COLUMNS, "The figures")},
)
async def breakdown(
    session: SessionDep,
    principal: StatsRead,
    cohort: CohortDep,
    by: Dimension,
    request: Request,
    format: CsvFormat = None,
) -> BreakdownRead | Response:
    result = await service.breakdown(session, cohort, exact=principal.has(STATS_RESEARCH), by=by)
    return figures_csv(result, f"breakdown-{by}.csv") if wants_csv(request, format) else result
