"""A cohort: which episodes the statistics describe (plain data, no HTTP, no SQL)."""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.clinical.enums import AUGMENTATION_KINDS


class AgeBand(StrEnum):
    """Age in whole years at the episode's first session."""

    paediatric = "paediatric"  # < 18
    adult = "adult"  # >= 18
    a0_4 = "0-4"
    a5_9 = "5-9"
    a10_14 = "10-14"
    a15_17 = "15-17"
    a18_39 = "18-39"
    a40_64 = "40-64"
    a65_79 = "65-79"
    a80 = "80+"


AGE_RANGES: dict[AgeBand, tuple[int, int | None]] = {
    AgeBand.paediatric: (0, 17),
    AgeBand.adult: (18, None),
    AgeBand.a0_4: (0, 4),
    AgeBand.a5_9: (5, 9),
    AgeBand.a10_14: (10, 14),
    AgeBand.a15_17: (15, 17),
    AgeBand.a18_39: (18, 39),
    AgeBand.a40_64: (40, 64),
    AgeBand.a65_79: (65, 79),
    AgeBand.a80: (80, None),
}

DEFAULT_KINDS: tuple[str, ...] = tuple(sorted(AUGMENTATION_KINDS))


@dataclass(frozen=True)
class Cohort:
    """Every filter narrows; an empty tuple means no filter on that attribute.

    Attributes of an episode: its first session's kind, indication and date; the patient's
    histology group (ICCC-3 codes, app.clinical.enums.HistologyGroup; never the free-text
    histology), sex and age at the first session; the spinal regions of its levels (any of
    those asked); the most levels treated in one of its sessions; staged (a series) or single;
    repeat (a level treated before by the same kind of procedure) or first.
    """

    histology_groups: tuple[str, ...] = ()  # the `histology` filter
    age_bands: tuple[AgeBand, ...] = ()
    sex: tuple[str, ...] = ()
    kinds: tuple[str, ...] = DEFAULT_KINDS
    indications: tuple[str, ...] = ()
    performed_from: date | None = None
    performed_to: date | None = None
    regions: tuple[str, ...] = ()
    levels_min: int | None = None
    levels_max: int | None = None
    staged: bool | None = None
    repeat: bool | None = None
    # the year or quarter (YYYY, YYYY-Qn) performed_from/performed_to were set from, if any
    period: str | None = None

    def describe(self) -> dict[str, object]:
        """The filters as applied, for the response."""
        return {
            "histology": list(self.histology_groups),
            "age_bands": [b.value for b in self.age_bands],
            "sex": list(self.sex),
            "kinds": list(self.kinds),
            "indications": list(self.indications),
            "performed_from": self.performed_from,
            "performed_to": self.performed_to,
            "regions": list(self.regions),
            "levels_min": self.levels_min,
            "levels_max": self.levels_max,
            "staged": self.staged,
            "repeat": self.repeat,
        }
