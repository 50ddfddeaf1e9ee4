from datetime import date

from app.clinical.definitions import Definitions
from app.procedures.eligibility import Met, WorkUpFacts, assess

DAY = date(2019, 2, 12)


def _work_up(**overrides: object) -> WorkUpFacts:
    values: dict[str, object] = {
        "performed_on": DAY,
        "consent_obtained": True,
        "last_imaging_date": date(2019, 1, 20),
        "platelet_count": 180.0,
        "inr": 1.1,
    }
    values.update(overrides)
    return WorkUpFacts(**values)  # type: ignore[arg-type]


def _results(work_up: WorkUpFacts) -> dict[str, Met]:
    return {c.name: c.result for c in assess(work_up, Definitions()).criteria}


def test_all_criteria_met() -> None:
    assert assess(_work_up(), Definitions()).result == "eligible"


def test_thresholds_are_strict_where_the_paper_says_so() -> None:
    # platelets must be > 50 and INR < 1.5: the limits themselves fail
    assert _results(_work_up(platelet_count=50.0))["platelets"] is Met.not_met
    assert _results(_work_up(platelet_count=50.1))["platelets"] is Met.met
    assert _results(_work_up(inr=1.5))["inr"] is Met.not_met
    assert _results(_work_up(inr=1.49))["inr"] is Met.met


def test_imaging_older_than_90_days_fails() -> None:
    assert _results(_work_up(last_imaging_date=date(2018, 11, 14)))["recent_imaging"] is Met.met
    assert _results(_work_up(last_imaging_date=date(2018, 11, 13)))["recent_imaging"] is Met.not_met


def test_unknown_items_make_it_incomplete_and_a_failure_wins() -> None:
    incomplete = assess(_work_up(inr=None), Definitions())
    assert incomplete.result == "incomplete"
    assert _results(_work_up(inr=None))["inr"] is Met.unknown
    assert (
        assess(_work_up(inr=None, consent_obtained=False), Definitions()).result == "not_eligible"
    )


def test_thresholds_are_settings() -> None:
    strict = Definitions(
        workup_imaging_max_age_days=10, workup_platelets_min=200, workup_inr_max=1.0
    )
    result = {c.name: c.result for c in assess(_work_up(), strict).criteria}
    assert result == {
        "informed_consent": Met.met,
        "recent_imaging": Met.not_met,
        "platelets": Met.not_met,
        "inr": Met.not_met,
    }
