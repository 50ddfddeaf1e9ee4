"""Vertebral levels: names, anatomical order, regions, approaches and codes (clinical-rules.md
sections 1 and 6).

The one table of levels and regions: validation (app.procedures.levels), the FHIR codes and
the statistics' region flags (app.clinical.predicates.region_of_level) are derived from it.
"""

from enum import StrEnum

from app.clinical.enums import Approach


class Region(StrEnum):
    cervical = "cervical"
    thoracic = "thoracic"
    lumbar = "lumbar"
    sacral = "sacral"


# (the first letter of its levels' names, region, how many levels, variants included)
REGIONS: tuple[tuple[str, Region, int], ...] = (
    ("C", Region.cervical, 7),
    ("T", Region.thoracic, 13),
    ("L", Region.lumbar, 6),
    ("S", Region.sacral, 5),
)
VARIANT_LEVELS = frozenset({"T13", "L6"})

# craniocaudal position of every accepted level name, variants included
LEVEL_POSITION: dict[str, int] = {}
LEVEL_REGION: dict[str, Region] = {}
for _prefix, _region, _count in REGIONS:
    for _n in range(1, _count + 1):
        _name = f"{_prefix}{_n}"
        LEVEL_POSITION[_name] = len(LEVEL_POSITION) + 1
        LEVEL_REGION[_name] = _region
STANDARD_LEVELS = tuple(name for name in LEVEL_POSITION if name not in VARIANT_LEVELS)

# SNOMED CT body structure codes (DICOM CID 7603), as verified in clinical-rules.md; sacral
# left unset.
SNOMED_VERTEBRA: dict[str, str] = {
    "C1": "14806007", "C2": "39976000", "C3": "113205007", "C4": "5329002",
    "C5": "36978003", "C6": "36054005", "C7": "87391001",
    "T1": "64864005", "T2": "53733008", "T3": "1626008", "T4": "73071006",
    "T5": "56401006", "T6": "45296009", "T7": "62487009", "T8": "11068009",
    "T9": "82687006", "T10": "7610001", "T11": "12989004", "T12": "23215003",
    "L1": "66794005", "L2": "14293000", "L3": "36470004", "L4": "11994002", "L5": "49668003",
}  # fmt: skip

# Which approaches clinical-rules.md names for which region. Sacral approaches are not listed there,
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


def region_of(level: str) -> Region:
    return LEVEL_REGION[level]
