"""The imaging rules as pure functions (clinical-rules.md section 3): no database."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.clinical.definitions import Definitions
from app.clinical.enums import TriggerRule
from app.clinical.episodes import ProcedureFact
from app.clinical.pain import PainFact, is_improved
from app.triggers.rules import Day14Outcome, evaluate, worsenings

R = Definitions()
T0 = datetime(2020, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def vp(at: datetime = T0, levels: tuple[str, ...] = ("L1",), **kw: object) -> ProcedureFact:
    return ProcedureFact(
        id=kw.pop("id", uuid.uuid4()),  # type: ignore[arg-type]
        performed_at=at,
        kind=str(kw.pop("kind", "vertebroplasty")),
        levels=frozenset(levels),
        series_id=kw.pop("series_id", None),  # type: ignore[arg-type]
    )


def pain(day: float, score: float, site: str = "back", t0: datetime = T0) -> PainFact:
    return PainFact(t0 + timedelta(days=day), score, site, uuid.uuid4())


def one(procedures: list[ProcedureFact], scores: list[PainFact], died: date | None = None):  # type: ignore[no-untyped-def]
    return evaluate(procedures, scores, died, NOW, R)


def outcome(scores: list[PainFact], died: date | None = None) -> Day14Outcome:
    ev = evaluate([vp()], scores, died, NOW, R)
    assert len(ev.day14) == 1
    return ev.day14[0].outcome


def test_improved_within_two_weeks_fires_nothing() -> None:
    assert outcome([pain(-3, 7), pain(7, 5)]) is Day14Outcome.improved


def test_no_improvement_with_a_score_in_the_window_fires_rule_a() -> None:
    ev = one([vp()], [pain(-3, 7), pain(3, 4), pain(10, 6)])
    # day 3 is improved (7 - 4 = 3): no rule A even though day 10 is not
    assert ev.day14[0].outcome is Day14Outcome.improved
    ev = one([vp()], [pain(-3, 7), pain(3, 6), pain(10, 6)])
    (d,) = ev.day14
    assert d.outcome is Day14Outcome.no_improvement
    assert d.fired is not None and d.fired.rule is TriggerRule.no_improvement
    assert d.due_at == T0 + timedelta(days=14)
    assert [e.role for e in d.fired.evidence] == ["baseline", "score", "score"]


def test_no_score_in_the_window_is_follow_up_overdue() -> None:
    assert outcome([pain(-3, 7), pain(3, 6)]) is Day14Outcome.follow_up_overdue
    assert outcome([pain(-3, 7)]) is Day14Outcome.follow_up_overdue


def test_window_bounds_are_inclusive_and_t0_is_excluded() -> None:
    assert outcome([pain(-3, 7), pain(7, 7)]) is Day14Outcome.no_improvement
    assert outcome([pain(-3, 7), pain(14, 7)]) is Day14Outcome.no_improvement
    assert outcome([pain(-3, 7), pain(14, 3)]) is Day14Outcome.improved
    later = PainFact(T0 + timedelta(days=14, seconds=1), 3, "back", uuid.uuid4())
    assert outcome([pain(-3, 7), later]) is Day14Outcome.follow_up_overdue
    at_t0 = PainFact(T0, 1, "back", uuid.uuid4())
    assert outcome([pain(-3, 7), at_t0]) is Day14Outcome.follow_up_overdue


def test_baseline_rules() -> None:
    assert outcome([pain(7, 5)]) is Day14Outcome.baseline_missing
    assert outcome([pain(-31, 7), pain(7, 7)]) is Day14Outcome.baseline_missing
    assert outcome([pain(-29, 7), pain(7, 7)]) is Day14Outcome.no_improvement
    assert outcome([pain(-3, 1), pain(7, 1)]) is Day14Outcome.baseline_below_threshold
    # the latest score before the procedure is the baseline
    assert outcome([pain(-20, 2), pain(-3, 8), pain(7, 6)]) is Day14Outcome.improved


def test_leg_pain_never_counts() -> None:
    assert outcome([pain(-3, 7), pain(7, 0, "leg")]) is Day14Outcome.follow_up_overdue
    assert outcome([pain(-3, 7, "leg"), pain(7, 7)]) is Day14Outcome.baseline_missing


def test_improvement_is_two_points_or_thirty_percent() -> None:
    t = Definitions()
    assert is_improved(7, 5, t)
    assert not is_improved(7, 5.1, t)
    assert is_improved(3, 2, t)
    assert not is_improved(3, 2.2, t)
    assert not is_improved(0, 0, t)


def test_repeat_procedure_on_a_level_ends_the_episode() -> None:
    first, again = vp(levels=("L3",)), vp(T0 + timedelta(days=10), ("L3", "L4"))
    ev = one([first, again], [pain(-3, 7), pain(12, 7)])
    outcomes = {d.episode.key: d.outcome for d in ev.day14}
    assert outcomes[first.id] is Day14Outcome.ended_before_due
    # the new episode's baseline is the latest score in the 30 days before it: day -3
    assert outcomes[again.id] is Day14Outcome.follow_up_overdue


def test_other_kinds_end_episodes_but_fire_nothing() -> None:
    cryo = vp(T0 + timedelta(days=5), kind="cryoablation")
    ev = one([vp(), cryo], [pain(-3, 7)])
    assert [d.outcome for d in ev.day14] == [Day14Outcome.ended_before_due]
    ev = one([vp(kind="radiotherapy")], [pain(-3, 7)])
    assert ev.day14 == [] and ev.fired == []


def test_a_staged_series_counts_from_its_last_session() -> None:
    series = uuid.uuid4()
    s1 = vp(T0, ("T1", "T6"), series_id=series)
    s2 = vp(T0 + timedelta(days=7), ("T11", "L2"), series_id=series)
    ev = one([s1, s2], [pain(-15, 8), pain(10, 8)])  # day 10 = 3 days after stage 2
    (d,) = ev.day14
    assert d.episode.key == series
    assert d.due_at == s2.performed_at + timedelta(days=14)
    assert d.outcome is Day14Outcome.follow_up_overdue  # nothing in [t0 + 7, t0 + 14]


def test_death_before_the_due_day_fires_nothing() -> None:
    assert outcome([pain(-3, 7)], died=(T0 + timedelta(days=10)).date()) is (
        Day14Outcome.patient_died
    )
    assert outcome([pain(-3, 7)], died=(T0 + timedelta(days=40)).date()) is (
        Day14Outcome.follow_up_overdue
    )


def test_not_due_yet_is_not_decided() -> None:
    ev = evaluate([vp()], [pain(-3, 7)], None, T0 + timedelta(days=13), R)
    assert ev.day14 == []


# --- rule B ---------------------------------------------------------------------------------


def fired_days(scores: list[PainFact]) -> list[int]:
    return [(f.due_at - T0).days for f in worsenings(one([vp()], scores).episodes[0], scores, R)]


def test_paper_case_1_pattern() -> None:
    # baseline 7, day 7: 5 (improved), day 28: 0, day 212: 6 -> worse by 6 over the lowest
    assert fired_days([pain(-5, 7), pain(7, 5), pain(28, 0), pain(212, 6)]) == [212]


def test_worsening_needs_a_prior_improvement() -> None:
    assert fired_days([pain(-5, 7), pain(7, 7), pain(20, 9)]) == []


def test_reaching_the_baseline_is_a_worsening() -> None:
    assert fired_days([pain(-5, 4), pain(7, 2), pain(20, 3.5), pain(30, 4)]) == [30]


def test_once_per_worsening_and_a_new_improvement_rearms() -> None:
    scores = [pain(-5, 8), pain(7, 3), pain(20, 6), pain(25, 7), pain(30, 6), pain(40, 3)]
    assert fired_days(scores) == [20]  # 25 and 30 are the same worsening
    scores.append(pain(50, 5))
    assert fired_days(scores) == [20, 50]  # day 40 (3) re-armed it


def test_leg_pain_does_not_fire_rule_b() -> None:
    assert fired_days([pain(-5, 7), pain(7, 3), pain(20, 9, "leg")]) == []


def test_scores_after_the_episode_end_belong_to_the_next_episode() -> None:
    first, again = vp(levels=("L3",)), vp(T0 + timedelta(days=60), ("L3",))
    scores = [pain(-5, 7), pain(7, 3), pain(70, 9)]
    ev = one([first, again], scores)
    assert [f.episode.key for f in ev.worsenings] == []  # day 70 is in the new episode,
    # whose baseline (day -5 is 65 days before it) is missing


def test_worsening_identity_survives_late_data_inside_the_same_worsening() -> None:
    procedure = vp()
    scores = [pain(-5, 8), pain(7, 3), pain(30, 7)]
    (before,) = worsenings(one([procedure], scores).episodes[0], scores, R)
    scores.append(pain(20, 6))  # arrives late, taken earlier: now the first worsened score
    (after,) = worsenings(one([procedure], scores).episodes[0], scores, R)
    assert before.key == after.key and after.due_at == T0 + timedelta(days=20)


# --- properties -------------------------------------------------------------------------------

score_values = st.integers(0, 10).map(float) | st.sampled_from([0.5, 2.1, 3.3, 6.7])
histories = st.lists(
    st.tuples(st.integers(-40, 400), score_values, st.sampled_from(["back", "back", "leg"])),
    max_size=25,
)


def facts(raw: list[tuple[int, float, str]]) -> list[PainFact]:
    return [
        PainFact(T0 + timedelta(hours=h * 6), s, site, uuid.UUID(int=i + 1))
        for i, (h, s, site) in enumerate(raw)
    ]


@settings(max_examples=300, deadline=None)
@given(histories)
def test_rule_b_invariants(raw: list[tuple[int, float, str]]) -> None:
    scores = facts(raw)
    episode = one([vp()], scores).episodes[0]
    fired = worsenings(episode, scores, R)
    # each worsening answers to its own improvement, and fires on a score that is worse
    assert len({f.occurrence for f in fired}) == len(fired)
    for f in fired:
        roles = {str(e.role): e for e in f.evidence}
        worse, lowest, base = roles["worsening"], roles["lowest"], roles["baseline"]
        assert worse.score - lowest.score >= 2 - 1e-9 or worse.score >= base.score
        assert roles["improvement"].occurred_at <= lowest.occurred_at <= worse.occurred_at
    # the order scores arrive in does not matter
    shuffled = scores[:]
    random.Random(len(raw)).shuffle(shuffled)
    assert [f.key for f in worsenings(episode, shuffled, R)] == [f.key for f in fired]


@settings(max_examples=300, deadline=None)
@given(histories, histories)
def test_day14_only_depends_on_scores_up_to_the_due_time(
    raw: list[tuple[int, float, str]], late: list[tuple[int, float, str]]
) -> None:
    scores = facts(raw)
    due = T0 + timedelta(days=14)
    after_due = [
        PainFact(due + timedelta(hours=1 + abs(h)), s, site, uuid.uuid4()) for h, s, site in late
    ]
    a = one([vp()], scores).day14[0]
    b = one([vp()], scores + after_due).day14[0]
    assert a.outcome is b.outcome
    assert (a.fired is None) == (
        a.outcome not in (TriggerRule.no_improvement, TriggerRule.follow_up_overdue)
    )
