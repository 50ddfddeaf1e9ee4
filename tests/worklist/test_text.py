"""The worklist's words: a trigger's evidence as one sentence, a due score's sentence, labels."""

import uuid
from datetime import UTC, date, datetime, timedelta

from app.worklist.text import (
    EvidenceFact,
    due_sentence,
    levels_text,
    patient_label,
    trigger_sentence,
)

T0 = datetime(2019, 2, 12, 9, 30, tzinfo=UTC)


def ev(role: str, score: float, day: float, site: str | None = "back") -> EvidenceFact:
    return EvidenceFact(role, score, T0 + timedelta(days=day), site)


def test_no_improvement_reads_as_the_issue_example() -> None:
    evidence = [ev("baseline", 8, -2), ev("score", 9, 3), ev("score", 8, 12)]
    assert (
        trigger_sentence("no_improvement", evidence, T0, "vertebroplasty", ["T9"])
        == "Back pain 8/10 at day 12 against a baseline of 8/10: no improvement at 2 weeks "
        "after T9 vertebroplasty"
    )


def test_the_site_is_taken_from_the_evidence_rows() -> None:
    evidence = [ev("baseline", 7.5, -1, "leg"), ev("score", 7, 10, "leg")]
    assert (
        trigger_sentence("no_improvement", evidence, T0, "vertebroplasty", ["L3"])
        == "Leg pain 7/10 at day 10 against a baseline of 7.5/10: no improvement at 2 weeks "
        "after L3 vertebroplasty"
    )
    overdue = trigger_sentence("follow_up_overdue", [ev("baseline", 8, -1, "leg")], T0,
                               "kyphoplasty", ["T7", "T12"])  # fmt: skip
    assert overdue == (
        "No leg pain score between day 7 and day 14 against a baseline of 8/10: follow-up "
        "overdue at 2 weeks after T7 and T12 kyphoplasty"
    )
    # a score without a recorded site is back pain
    unsited = trigger_sentence("follow_up_overdue", [ev("baseline", 8, -1, None)], T0,
                               "vertebroplasty", ["T9"])  # fmt: skip
    assert unsited.startswith("No back pain score")


def test_worsening_names_the_worsening_the_lowest_and_the_baseline() -> None:
    evidence = [
        ev("baseline", 7, -2),
        ev("improvement", 5, 7),
        ev("lowest", 0, 30),
        ev("worsening", 6, 210),
    ]
    assert trigger_sentence("worsening", evidence, T0, "vertebroplasty", ["T7", "T12"]) == (
        "Back pain 6/10 at day 210, up from 0/10 at day 30 (against a baseline of 7/10): "
        "worsening after improvement after T7 and T12 vertebroplasty"
    )


def test_levels_are_listed_in_plain_words() -> None:
    assert levels_text(["T1", "T6", "T7", "T9"]) == "T1, T6, T7 and T9"
    assert levels_text(["L3"]) == "L3"


def test_due_sentence_says_the_window_and_whether_a_score_is_in_it() -> None:
    opens, closes = T0 + timedelta(days=10), T0 + timedelta(days=18)
    missing = due_sentence(14, "leg", "vertebroplasty", ["L3"], opens, closes, None, None, T0)
    assert missing == (
        "Day 14 leg pain score due after L3 vertebroplasty (window 2019-02-22 to 2019-03-02): "
        "none recorded in the window yet"
    )
    taken = due_sentence(14, "back", "vertebroplasty", ["L3"], opens, closes, 3.0,
                         T0 + timedelta(days=13), T0)  # fmt: skip
    assert taken.endswith(": 3/10 recorded at day 13")


def test_a_label_is_the_identifier_or_a_short_stable_description() -> None:
    pid = uuid.UUID("01a24369-1edb-76d7-bb15-5abca308ebe0")
    common = {
        "sex": "female",
        "birth_date": date(2004, 5, 1),
        "first_procedure_on": date(2019, 1, 15),
        "histology_group": "IX",
        "first_level": "T7",
    }
    assert patient_label(pid, identifier="MRN-0042", **common) == "MRN-0042"  # type: ignore[arg-type]
    assert patient_label(pid, identifier=None, **common) == "F 14y IX T7 #ebe0"  # type: ignore[arg-type]
    nothing: dict[str, None] = dict.fromkeys(
        ("birth_date", "first_procedure_on", "histology_group", "first_level")
    )
    bare = patient_label(pid, identifier=None, sex="unknown", **nothing)
    assert bare == "? #ebe0"


def test_a_trigger_without_evidence_rows_still_reads_plainly() -> None:
    assert trigger_sentence("no_improvement", [], T0, "vertebroplasty", ["T9"], baseline=7) == (
        "No improvement at 2 weeks after T9 vertebroplasty (against a baseline of 7/10)"
    )
    assert trigger_sentence("worsening", [], T0, "kyphoplasty", ["L1"]) == (
        "Worsening after improvement after L1 kyphoplasty (against no baseline)"
    )
