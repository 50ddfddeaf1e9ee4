import pytest

from app.clinical.enums import Approach
from app.clinical.levels import (
    LEVEL_POSITION,
    SNOMED_VERTEBRA,
    STANDARD_LEVELS,
    Region,
    region_of,
)
from app.errors import RuleViolation
from app.procedures.levels import check_approach, check_level


def test_standard_levels_are_exactly_c1_to_s5() -> None:
    expected = (
        [f"C{i}" for i in range(1, 8)]
        + [f"T{i}" for i in range(1, 13)]
        + [f"L{i}" for i in range(1, 6)]
        + [f"S{i}" for i in range(1, 6)]
    )
    assert list(STANDARD_LEVELS) == expected


def test_positions_run_craniocaudally() -> None:
    assert LEVEL_POSITION["C7"] < LEVEL_POSITION["T1"] < LEVEL_POSITION["T13"]
    assert (
        LEVEL_POSITION["T13"] < LEVEL_POSITION["L1"] < LEVEL_POSITION["L6"] < LEVEL_POSITION["S1"]
    )


@pytest.mark.parametrize("raw", ["t7", " L3 ", "s5", "C1"])
def test_level_names_are_normalised(raw: str) -> None:
    assert check_level(raw, False) == raw.strip().upper()


@pytest.mark.parametrize("raw", ["T14", "L7", "C8", "S6", "X1", "T0", "", "7"])
def test_unknown_levels_are_refused(raw: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        check_level(raw, False)
    assert caught.value.code == "unknown-level"


@pytest.mark.parametrize("variant", ["T13", "L6"])
def test_variants_need_the_flag(variant: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        check_level(variant, False)
    assert caught.value.code == "variant-not-flagged"
    assert check_level(variant, True) == variant


def test_standard_level_flagged_as_variant_is_refused() -> None:
    with pytest.raises(RuleViolation):
        check_level("T12", True)


@pytest.mark.parametrize(
    ("level", "approach"),
    [
        ("T7", Approach.costotransverse),
        ("T7", Approach.transpedicular),
        ("L3", Approach.transpedicular),
        ("L3", Approach.posterolateral),
        ("C5", Approach.anterolateral),
        ("S1", Approach.transpedicular),
    ],
)
def test_approaches_allowed_by_region(level: str, approach: Approach) -> None:
    check_approach(level, approach)


@pytest.mark.parametrize(
    ("level", "approach"),
    [
        ("L3", Approach.costotransverse),
        ("C5", Approach.transpedicular),
        ("T7", Approach.anterolateral),
        ("T7", Approach.posterolateral),
    ],
)
def test_approaches_refused_outside_their_region(level: str, approach: Approach) -> None:
    with pytest.raises(RuleViolation) as caught:
        check_approach(level, approach)
    assert caught.value.code == "approach-region-mismatch"


def test_regions_and_codes() -> None:
    assert region_of("T12") is Region.thoracic
    assert region_of("S2") is Region.sacral
    assert SNOMED_VERTEBRA["L3"] == "36470004"
    assert SNOMED_VERTEBRA["T7"] == "62487009"
    # sacral codes are unverified and deliberately absent
    assert not any(level.startswith("S") for level in SNOMED_VERTEBRA)
    assert len(SNOMED_VERTEBRA) == 24
