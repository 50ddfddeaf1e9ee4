"""Checking a recorded level and its approach against the table of app.clinical.levels."""

from app.clinical.enums import Approach
from app.clinical.levels import (
    APPROACH_REGIONS,
    LEVEL_POSITION,
    LEVEL_REGION,
    VARIANT_LEVELS,
    Region,
    normalise_level,
)
from app.errors import RuleViolation


def check_level(level: str, is_variant: bool, field: str = "level") -> str:
    """Return the canonical level name, or raise naming what is wrong with it."""
    name = normalise_level(level)
    if name not in LEVEL_POSITION:
        raise RuleViolation(
            field,
            f"'{level}' is not a vertebral level; use C1-C7, T1-T12, L1-L5 or S1-S5 "
            "(T13 and L6 only as flagged anatomical variants).",
            "unknown-level",
        )
    if name in VARIANT_LEVELS and not is_variant:
        raise RuleViolation(
            field,
            f"{name} is an anatomical variant; set is_variant=true to record it.",
            "variant-not-flagged",
        )
    if is_variant and name not in VARIANT_LEVELS:
        raise RuleViolation(
            "is_variant", f"{name} is a standard level, not an anatomical variant.", "not-a-variant"
        )
    return name


def check_approach(level: str, approach: Approach, field: str = "approach") -> None:
    region = LEVEL_REGION[level]
    if region is Region.sacral:
        return
    allowed = APPROACH_REGIONS[approach]
    if region not in allowed:
        regions = " or ".join(sorted(allowed))
        raise RuleViolation(
            field,
            f"The {approach} approach is for {regions} levels, not {level} ({region}).",
            "approach-region-mismatch",
        )
