"""The pre-procedure work-up and its eligibility result (DOMAIN.md section 2)."""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


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
class WorkUp:
    performed_on: date
    consent_obtained: bool | None
    last_imaging_date: date | None
    platelet_count: float | None  # 10^9/L
    inr: float | None


@dataclass(frozen=True)
class Thresholds:
    imaging_max_age_days: int = 90
    platelets_min: float = 50.0
    inr_max: float = 1.5


def assess(work_up: WorkUp, t: Thresholds) -> Eligibility:
    def flag(value: object, ok: bool) -> Met:
        return Met.unknown if value is None else (Met.met if ok else Met.not_met)

    c = work_up
    max_age = t.imaging_max_age_days
    age = (c.performed_on - c.last_imaging_date).days if c.last_imaging_date else None
    criteria = (
        Criterion("informed_consent", flag(c.consent_obtained, bool(c.consent_obtained)),
                  "written informed consent obtained"),
        Criterion("recent_imaging", flag(age, age is not None and 0 <= age <= max_age),
                  f"CT or MRI of the region within {max_age} days before"
                  + (f" (was {age} days)" if age is not None else "")),
        Criterion("platelets", flag(c.platelet_count, (c.platelet_count or 0) > t.platelets_min),
                  f"platelet count > {t.platelets_min:g} x 10^9/L"),
        Criterion("inr", flag(c.inr, c.inr is not None and c.inr < t.inr_max),
                  f"INR < {t.inr_max:g}"),
    )  # fmt: skip
    results = {criterion.result for criterion in criteria}
    if Met.not_met in results:
        overall = "not_eligible"
    elif Met.unknown in results:
        overall = "incomplete"
    else:
        overall = "eligible"
    return Eligibility(overall, criteria)
