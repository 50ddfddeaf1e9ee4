import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.clinical.enums import DoseUnit, PainScale, Route
from app.errors import RuleViolation
from app.follow_up.opioids import FACTORS_VERSION, compute_ome
from app.follow_up.pain import check_step_of_ten, normalise_pain


@given(st.integers(0, 10))
def test_nrs_and_flacc_keep_whole_numbers(value: int) -> None:
    assert normalise_pain(PainScale.nrs11, value) == value
    assert normalise_pain(PainScale.flacc, value) == value


@given(st.floats(0, 100, allow_nan=False))
def test_vas_millimetres_are_divided_by_ten(mm: float) -> None:
    score = normalise_pain(PainScale.vas, mm)
    assert 0 <= score <= 10
    assert score == pytest.approx(mm / 10, abs=0.006)


@pytest.mark.parametrize("scale", [PainScale.fps_r, PainScale.wong_baker])
def test_faces_scales_take_even_steps(scale: PainScale) -> None:
    for value in (0, 2, 4, 6, 8, 10):
        assert normalise_pain(scale, value) == value
    for value in (1, 3, 5, 7, 9):
        with pytest.raises(RuleViolation):
            normalise_pain(scale, value)


@pytest.mark.parametrize(
    ("scale", "value"),
    [
        (PainScale.nrs11, 11),
        (PainScale.nrs11, -1),
        (PainScale.nrs11, 4.5),
        (PainScale.vas, 101),
        (PainScale.flacc, 10.5),
        (PainScale.wong_baker, 12),
    ],
)
def test_values_off_the_scale_are_refused(scale: PainScale, value: float) -> None:
    with pytest.raises(RuleViolation) as caught:
        normalise_pain(scale, value)
    assert caught.value.errors[0].field == "value"


def test_performance_steps_of_ten() -> None:
    assert check_step_of_ten(70, "value", "lansky") == 70
    for bad in (75, 110, -10):
        with pytest.raises(RuleViolation):
            check_step_of_ten(bad, "value", "lansky")


def test_case_1_oral_morphine() -> None:
    # 10 mg six times a day, then twice a day (paper, case 1)
    assert compute_ome("morphine", Route.oral, 10, DoseUnit.mg, 6).ome_mg_day == 60
    assert compute_ome("morphine", Route.oral, 10, DoseUnit.mg, 2).ome_mg_day == 20


@pytest.mark.parametrize(
    ("drug", "factor"),
    [
        ("codeine", 0.15),
        ("hydrocodone", 1),
        ("hydromorphone", 5),
        ("methadone", 4.7),
        ("oxycodone", 1.5),
        ("oxymorphone", 3),
        ("tapentadol", 0.4),
        ("tramadol", 0.2),
    ],
)
def test_cdc_oral_factors(drug: str, factor: float) -> None:
    result = compute_ome(drug, Route.oral, 10, DoseUnit.mg, 4)
    assert result.is_opioid is True
    assert result.ome_mg_day == pytest.approx(40 * factor)


def test_transdermal_fentanyl_per_mcg_per_hour() -> None:
    assert compute_ome("fentanyl", Route.transdermal, 25, DoseUnit.mcg_per_h, None).ome_mg_day == 60


def test_fentanyl_infusion_follows_the_parenteral_table() -> None:
    # r mcg/h -> r x 24 x 0.3 OME mg/day
    result = compute_ome("fentanyl", Route.iv, 10, DoseUnit.mcg_per_h, None)
    assert result.ome_mg_day == pytest.approx(10 * 24 * 0.3)


def test_iv_morphine_times_three() -> None:
    assert compute_ome("morphine", Route.iv, 2, DoseUnit.mg, 6).ome_mg_day == pytest.approx(36)
    assert compute_ome("morphine", Route.iv, 1, DoseUnit.mg_per_h, None).ome_mg_day == 72


def test_non_opioids_count_zero() -> None:
    for drug in ("gabapentin", "ketamine", "acetaminophen", "ibuprofen", "clonazepam", "lorazepam"):
        result = compute_ome(drug, Route.oral, 100, DoseUnit.mg, 3)
        assert (result.is_opioid, result.ome_mg_day) == (False, 0.0)


def test_not_computable_says_why() -> None:
    missing_dose = compute_ome("morphine", Route.oral, None, None, None)
    assert missing_dose.is_opioid is True and missing_dose.ome_mg_day is None
    assert missing_dose.reason
    unknown_route = compute_ome("oxycodone", Route.iv, 5, DoseUnit.mg, 4)
    assert unknown_route.ome_mg_day is None and FACTORS_VERSION in (unknown_route.reason or "")
    unknown_drug = compute_ome("buprenorphine", Route.oral, 1, DoseUnit.mg, 1)
    assert unknown_drug.is_opioid is None and unknown_drug.ome_mg_day is None


@pytest.mark.parametrize("drug", ["acetaminophen", "Paracetamol", "gabapentin", "ketamine"])
def test_the_domains_non_opioids_are_known_as_such(drug: str) -> None:
    """Recorded with OME 0 and is_opioid false, never 'unknown' (paracetamol is
    acetaminophen's international name)."""
    result = compute_ome(drug, Route.oral, 500, DoseUnit.mg, 4)
    assert (result.is_opioid, result.ome_mg_day, result.reason) == (False, 0.0, None)
