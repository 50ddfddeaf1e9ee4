import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.clinical.definitions import Definitions
from app.clinical.episodes import ProcedureFact, build_episodes
from app.clinical.pain import PainFact, baseline, is_improved, nearest, trajectory

T0 = datetime(2019, 1, 15, 9, tzinfo=UTC)
T = Definitions()


def proc(
    days: float, levels: set[str], kind: str = "vertebroplasty", series: uuid.UUID | None = None
) -> ProcedureFact:
    return ProcedureFact(uuid.uuid4(), T0 + timedelta(days=days), kind, frozenset(levels), series)


def pain(days: float, score: float, site: str = "back") -> PainFact:
    return PainFact(T0 + timedelta(days=days), score, site)


def test_improvement_two_points_or_thirty_percent() -> None:
    assert is_improved(7, 5, T)  # 2 points
    assert not is_improved(7, 5.5, T)  # 1.5 points, 21 %
    assert is_improved(3, 2, T)  # 1 point but 33 %
    assert not is_improved(10, 8.5, T)  # 1.5 points, 15 %
    assert not is_improved(0, 0, T)


def test_improvement_is_not_fooled_by_binary_floating_point() -> None:
    assert is_improved(7.3, 5.3, T)  # 1.9999999999999996 in floats: still 2 points
    assert is_improved(3, 2.1, T)  # 0.29999999999999993 in floats: still 30 %
    assert not is_improved(7.3, 5.31, T)


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_improvement_matches_its_definition_in_exact_arithmetic(b: int, s: int) -> None:
    # scores with two decimals, compared exactly as integers of hundredths
    expected = b - s >= 200 or (b > 0 and (b - s) * 10 >= 3 * b)
    assert is_improved(b / 100, s / 100, T) == expected


def test_staged_series_is_one_episode_counted_from_its_last_session() -> None:
    series = uuid.uuid4()
    first = proc(0, {"T1", "T6"}, series=series)
    second = proc(7, {"T11", "L2"}, series=series)
    (episode,) = build_episodes([second, first])
    assert episode.key == series
    assert episode.procedure_ids == (first.id, second.id)
    assert episode.first_at == first.performed_at
    assert episode.t0 == second.performed_at
    assert episode.levels == {"T1", "T6", "T11", "L2"}


def test_later_procedure_on_a_shared_level_ends_the_episode() -> None:
    first = proc(0, {"L3"})
    other_level = proc(30, {"T7"})
    repeat = proc(160, {"L3"}, kind="cryoablation")
    episodes = build_episodes([first, other_level, repeat])
    by_key = {e.key: e for e in episodes}
    assert by_key[first.id].ended_at == repeat.performed_at
    assert by_key[first.id].ended_by == repeat.id
    assert by_key[other_level.id].ended_at is None
    assert by_key[repeat.id].is_augmentation is False


def test_baseline_is_latest_back_score_in_30_days_before_first_session() -> None:
    (episode,) = build_episodes([proc(0, {"T7"})])
    scores = [pain(-40, 9), pain(-10, 8), pain(-2, 7), pain(-1, 9, "leg"), pain(0.5, 3)]
    chosen = baseline(episode, scores, T)
    assert chosen is not None and chosen.score == 7
    assert baseline(episode, [pain(-31, 8)], T) is None


def test_nearest_score_in_window_ties_go_to_the_earlier() -> None:
    (episode,) = build_episodes([proc(0, {"T7"})])
    scores = [pain(5, 6), pain(9, 4), pain(11, 3)]
    found = nearest(episode, scores, 7, 3)
    assert found is not None and found.score == 6  # day 5 and day 9 tie; the earlier wins
    assert nearest(episode, [pain(10.5, 1)], 7, 3) is None


def test_scores_after_the_episode_ends_do_not_count() -> None:
    first = proc(0, {"L3"})
    repeat = proc(20, {"L3"})
    episode = next(e for e in build_episodes([first, repeat]) if e.key == first.id)
    assert nearest(episode, [pain(25, 1)], 30, 7) is None


def test_trajectory_of_paper_case_1() -> None:
    (episode,) = build_episodes([proc(0, {"T7", "T12"})])
    result = trajectory(episode, [pain(-5, 7), pain(7, 5), pain(28, 0), pain(212, 6)], T)
    assert result.baseline == 7
    points = {p.day: p for p in result.points}
    assert (points[7].score, points[7].change, points[7].improved) == (5, -2, True)
    assert points[14].score is None
    assert (points[30].score, points[30].improved) == (0, True)
    assert points[180].score is None  # day 212 is outside 180 +/- 30
    assert result.baseline_missing is False
