"""The pre-procedure work-up and its eligibility result (clinical-rules.md section 2)."""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.clinical.definitions import Definitions


class Met(StrEnum):
    met = "met"
    not_met = "not_met"
    unknown = "unknown"


@dataclass(frozen=True)
class Criterion:
    name: str
    result: Met
    detail: str


@dataclass(frozen=True)
class Eligibility:
    result: str  # eligible | not_eligible | incomplete
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class WorkUpFacts:
    """A stored work-up as the rule reads it (the API's is procedures.schemas.WorkUp)."""

    performed_on: date
    consent_obtained: bool | None
    last_imaging_date: date | None
    platelet_count: float | None  # 10^9/L
    inr: float | None


def assess(work_up: WorkUpFacts, defs: Definitions) -> Eligibility:
    """The criteria against the work-up thresholds of the definitions."""

    def flag(value: object, ok: bool) -> Met:
        return Met.unknown if value is None else (Met.met if ok else Met.not_met)

    c = work_up
    platelets_min, inr_max = defs.workup_platelets_min, defs.workup_inr_max
    max_age = defs.workup_imaging_max_age_days
    age = (c.performed_on - c.last_imaging_date).days if c.last_imaging_date else None
    criteria = (
        Criterion("informed_consent", flag(c.consent_obtained, bool(c.consent_obtained)),
                  "written informed consent obtained"),
        Criterion("recent_imaging", flag(age, age is not None and 0 <= age <= max_age),
                  f"CT or MRI of the region within {max_age} days before"
                  + (f" (was {age} days)" if age is not None else "")),
        Criterion("platelets", flag(c.platelet_count, (c.platelet_count or 0) > platelets_min),
                  f"platelet count > {platelets_min:g} x 10^9/L"),
        Criterion("inr", flag(c.inr, c.inr is not None and c.inr < inr_max),
                  f"INR < {inr_max:g}"),
    )  # fmt: skip
    results = {criterion.result for criterion in criteria}
    if Met.not_met in results:
        overall = "not_eligible"
    elif Met.unknown in results:
        overall = "incomplete"
    else:
        overall = "eligible"
    return Eligibility(overall, criteria)
