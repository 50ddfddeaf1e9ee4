"""Response shapes of the statistics endpoints.

Every figure says how many contributed (`n`) and out of what (`denominator`); a suppressed part
is null and the object names the reason in `suppressed` (the response's top-level
`suppressed` list names every suppressed cell).
"""

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.clinical.enums import HistologyGroup


class Figure(BaseModel):
    """A count."""

    value: int | None
    suppressed: str | None = None


class Rate(BaseModel):
    """n out of denominator."""

    n: int | None
    denominator: int | None
    proportion: float | None
    suppressed: str | None = None


class Distribution(BaseModel):
    """A measure over the episodes that have it: n of them out of denominator."""

    n: int | None
    denominator: int | None
    mean: float | None = None
    sd: float | None = None
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    suppressed: str | None = None


class Counts(BaseModel):
    patients: Figure
    episodes: Figure = Field(description="Procedures, a staged series counting once.")
    sessions: Figure
    level_treatments: Figure
    distinct_vertebrae: Figure = Field(description="Summed over patients.")
    vertebrae_per_patient: Distribution
    repeat_level_treatments: Rate = Field(
        description="Level treatments of a vertebra the same kind of procedure treated before."
    )
    staged_series: Figure


class PainPoint(BaseModel):
    day: int
    window_days: int
    score: Distribution
    change: Distribution = Field(description="Score minus baseline.")
    improved: Rate = Field(description="B - s >= 2 points or >= 30 % (Farrar 2001).")
    pain_free: Rate = Field(description="Score 0 among the scored.")
    immpact_30: Rate = Field(description="Reduction >= 30 % (IMMPACT: moderately important).")
    immpact_50: Rate = Field(description="Reduction >= 50 % (IMMPACT: substantially important).")
    completeness: Rate = Field(
        description="Episodes with a score in the window, out of those whose window has fully "
        "passed before now, before death and before the episode ended."
    )


class Pain(BaseModel):
    """Each episode's pain is that of the site its procedure targets (back by default, or
    leg): its baseline, time points and clinical success."""

    baseline: Distribution
    baseline_missing: Rate
    clinical_success_2w: Rate = Field(description="Improved at the score nearest day 14.")
    time_points: list[PainPoint]


class AnalgesiaPoint(BaseModel):
    day: int = Field(description="0: before the first session (baseline).")
    counted: Figure = Field(
        description="Episodes with a medication history by then, reached, inside the episode, "
        "before death."
    )
    ome_mg_day: Distribution = Field(description="n: episodes whose OME was computable.")
    ome_mg_kg_day: Distribution
    opioid_free: Rate = Field(description="Out of the episodes whose opioid status is known.")


class ScorePoint(BaseModel):
    day: int
    value: Distribution
    change: Distribution


class Scored(BaseModel):
    baseline: Distribution
    time_points: list[ScorePoint]


class Complications(BaseModel):
    total: Figure
    per_session: Rate = Field(description="Complications per session.")
    sessions_with: Rate
    per_level: Rate = Field(description="Complications attributed to a level, per level.")
    levels_with: Rate
    major: Rate = Field(description="SIR C-F, per session.")
    symptomatic: Rate
    asymptomatic: Rate
    by_sir_classic: dict[str, Figure]
    by_sir_2017: dict[str, Figure]
    by_cirse: dict[str, Figure]
    cement_leakage: dict[str, Rate] = Field(description="Per level treatment, by site.")


class SurvivalPoint(BaseModel):
    day: int
    at_risk: int | None
    survival: float | None
    lower: float | None
    upper: float | None
    suppressed: str | None = None
    ci_undefined: str | None = Field(
        None, description="Why lower and upper are null though survival is shown (S = 0)."
    )


class KaplanMeier(BaseModel):
    n: Figure
    events: Figure
    censored: Figure
    median_days: int | None
    median_lower: int | None
    median_upper: int | None
    median_suppressed: str | None = None
    median_ci_undefined: str | None = Field(
        None,
        description="Why a bound of the median's interval is null: its band reached the day "
        "the curve reaches 0 first (null without it: the band never reaches 0.5).",
    )
    at: list[SurvivalPoint]


class Triggers(BaseModel):
    by_rule: dict[str, Figure] = Field(description="Fired and not superseded.")
    episodes_with: Rate


class SuppressedCell(BaseModel):
    cell: str
    reason: str
    explanation: str


class CohortRead(BaseModel):
    histology: list[HistologyGroup]
    age_bands: list[str]
    sex: list[str]
    kinds: list[str]
    indications: list[str]
    performed_from: date | None
    performed_to: date | None
    regions: list[str]
    levels_min: int | None
    levels_max: int | None
    staged: bool | None
    repeat: bool | None


class Disclosure(BaseModel):
    exact: bool = Field(description="True for stats:research; else small cells are suppressed.")
    k: int | None
    suppressed: list[SuppressedCell]


class OutcomeStats(BaseModel):
    cohort: CohortRead
    generated_at: datetime
    disclosure: Disclosure
    counts: Counts
    pain: Pain
    analgesia: list[AnalgesiaPoint]
    performance: Scored = Field(description="Lansky (< 16 years) or Karnofsky, 0-100.")
    function_odi: Scored = Field(description="Oswestry Disability Index, 0-100.")
    complications: Complications
    recurrence: KaplanMeier = Field(
        description="Time to the first rule-B worsening of back pain, for episodes that could "
        "recur (a back-pain baseline and an improved back-pain score); censored "
        "at the last back-pain score (death and a new episode end observation)."
    )
    survival: KaplanMeier = Field(
        description="Time to death; censored at the last contact or a new episode on the same "
        "levels."
    )
    imaging_triggers: Triggers


class TrajectoryPoint(BaseModel):
    start_day: int
    n: int | None
    mean: float | None
    lower: float | None
    upper: float | None
    suppressed: str | None = None


class TrajectoryRead(BaseModel):
    cohort: CohortRead
    generated_at: datetime
    disclosure: Disclosure
    unit: str
    points: list[TrajectoryPoint]


class BreakdownRow(BaseModel):
    group: str = Field(
        description="`total`; or by histology an ICCC-3 group code (I-XII) or `not_recorded`, "
        "by region cervical, thoracic, lumbar or sacral, by level count 0-4 or 5+."
    )
    patients: Figure
    episodes: Figure
    sessions: Figure
    baseline_pain: Distribution
    pain_d14: Distribution
    clinical_success_2w: Rate
    completeness_d14: Rate
    pain_d30: Distribution
    opioid_free_d30: Rate


class BreakdownRead(BaseModel):
    cohort: CohortRead
    generated_at: datetime
    disclosure: Disclosure
    by: str
    additive: bool = Field(description="Whether the groups partition the cohort.")
    total: BreakdownRow
    groups: list[BreakdownRow]
