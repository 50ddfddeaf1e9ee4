"""Vertebral levels: names, anatomical order, regions, approaches and codes (DOMAIN.md 1 and 6)."""

from enum import StrEnum

from app.errors import RuleViolation
from app.models.enums import Approach


class Region(StrEnum):
    cervical = "cervical"
    thoracic = "thoracic"
    lumbar = "lumbar"
    sacral = "sacral"


_REGIONS: tuple[tuple[str, Region, int], ...] = (
    ("C", Region.cervical, 7),
    ("T", Region.thoracic, 13),
    ("L", Region.lumbar, 6),
    ("S", Region.sacral, 5),
)
VARIANT_LEVELS = frozenset({"T13", "L6"})

# craniocaudal position of every accepted level name, variants included
LEVEL_POSITION: dict[str, int] = {}
LEVEL_REGION: dict[str, Region] = {}
for _prefix, _region, _count in _REGIONS:
    for _n in range(1, _count + 1):
        _name = f"{_prefix}{_n}"
        LEVEL_POSITION[_name] = len(LEVEL_POSITION) + 1
        LEVEL_REGION[_name] = _region
STANDARD_LEVELS = tuple(name for name in LEVEL_POSITION if name not in VARIANT_LEVELS)

# SNOMED CT body structure codes (DICOM CID 7603), as verified in DOMAIN.md; sacral left unset.
SNOMED_VERTEBRA: dict[str, str] = {
    "C1": "14806007", "C2": "39976000", "C3": "113205007", "C4": "5329002",
    "C5": "36978003", "C6": "36054005", "C7": "87391001",
    "T1": "64864005", "T2": "53733008", "T3": "1626008", "T4": "73071006",
    "T5": "56401006", "T6": "45296009", "T7": "62487009", "T8": "11068009",
    "T9": "82687006", "T10": "7610001", "T11": "12989004", "T12": "23215003",
    "L1": "66794005", "L2": "14293000", "L3": "36470004", "L4": "11994002", "L5": "49668003",
}  # fmt: skip

# Which approaches DOMAIN.md names for which region. Sacral approaches are not listed there,
# so no approach is refused for a sacral level.
APPROACH_REGIONS: dict[Approach, frozenset[Region]] = {
    Approach.transpedicular: frozenset({Region.lumbar, Region.thoracic}),
    Approach.costotransverse: frozenset({Region.thoracic}),
    Approach.parapedicular: frozenset({Region.thoracic}),
    Approach.posterolateral: frozenset({Region.lumbar}),
    Approach.anterolateral: frozenset({Region.cervical}),
}


def normalise_level(raw: str) -> str:
    return raw.strip().upper()


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


def region_of(level: str) -> Region:
    return LEVEL_REGION[level]
