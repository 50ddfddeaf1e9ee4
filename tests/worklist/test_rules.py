"""The worklist's pure rules against clinical-rules.md section 4's time points (day 7 +/- 3,
14 +/- 4, 30 +/- 7, 90 +/- 21, 180 +/- 30, 365 +/- 60) and section 3's episodes: no database."""

import json
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.clinical.definitions import Definitions
from app.clinical.episodes import Episode, ProcedureFact, build_episodes
from app.clinical.pain import PainFact
from app.worklist.rules import due_point, due_points

R = Definitions()
T0 = datetime(2020, 3, 2, 9, 0, tzinfo=UTC)
# clinical-rules.md section 4, written out here on purpose: the rules must agree with the document
DOMAIN_WINDOWS = {7: 3, 14: 4, 30: 7, 90: 21, 180: 30, 365: 60}


def vp(
    at: datetime = T0,
    levels: tuple[str, ...] = ("T9",),
    kind: str = "vertebroplasty",
    site: str = "back",
    series: uuid.UUID | None = None,
) -> ProcedureFact:
    return ProcedureFact(uuid.uuid4(), at, kind, frozenset(levels), series, site)


def episode(*procedures: ProcedureFact) -> Episode:
    return build_episodes(procedures or (vp(),))[0]


def at(days: float, t0: datetime = T0) -> datetime:
    return t0 + timedelta(days=days)


def pain(days: float, score: float = 5, site: str = "back") -> PainFact:
    return PainFact(at(days), score, site, uuid.uuid4())


@pytest.mark.parametrize(("day", "half_width"), sorted(DOMAIN_WINDOWS.items()))
def test_each_time_point_is_due_from_its_window_opening_to_its_close(
    day: int, half_width: int
) -> None:
    e = episode()
    opens, closes = at(day - half_width), at(day + half_width)
    before, after = opens - timedelta(seconds=1), closes + timedelta(seconds=1)
    for moment in (opens, at(day), closes):
        point = due_point(e, [], moment, None, R)
        assert point is not None and point.day in (day, *DOMAIN_WINDOWS), moment
        if moment == at(day):
            assert (point.day, point.due_at) == (day, at(day))
            assert (point.window_opens, point.window_closes) == (opens, closes)
            assert point.half_width == half_width and not point.score_in_window
    opened = due_point(e, [], before, None, R)
    assert opened is None or opened.day < day  # only an earlier window may still be open
    closed = due_point(e, [], after, None, R)
    assert closed is None or closed.day > day  # only a later window may be open already


def test_between_windows_and_before_day_4_nothing_is_due() -> None:
    e = episode()
    for days in (0.5, 3.9, 18.5, 22.9, 37.5, 68.9, 111.5, 149.9, 210.5, 304.9, 425.1, 800):
        assert due_point(e, [], at(days), None, R) is None, days


def test_where_day_7_and_day_14_overlap_the_first_not_yet_scored_is_due() -> None:
    e = episode()
    point = due_point(e, [], at(10), None, R)
    assert point is not None and point.day == 7
    scored = due_point(e, [pain(8)], at(10), None, R)
    assert scored is not None and scored.day == 14 and not scored.score_in_window


def test_a_score_in_the_window_is_reported_only_when_taken_of_the_target_site_by_then() -> None:
    e = episode()
    point = due_point(e, [pain(6, 4)], at(7), None, R)
    assert point is not None and point.score_in_window
    assert point.score is not None and point.score.score == 4
    # taken after the moment: not yet
    later = due_point(e, [pain(9, 4)], at(7), None, R)
    assert later is not None and not later.score_in_window
    # outside the window (day 3): not in it
    early = due_point(e, [pain(3, 4)], at(7), None, R)
    assert early is not None and not early.score_in_window
    # a leg-targeted episode (clinical-rules.md section 3: target pain) needs a leg score
    leg = episode(vp(site="leg"))
    back_only = due_point(leg, [pain(6, 4, "back")], at(7), None, R)
    assert back_only is not None and not back_only.score_in_window
    leg_scored = due_point(leg, [pain(6, 4, "leg")], at(7), None, R)
    assert leg_scored is not None and leg_scored.score_in_window


def test_an_episode_ended_by_a_later_procedure_closes_its_pending_time_points() -> None:
    first = vp(levels=("L3",))
    again = vp(at=at(12), levels=("L3", "L4"))
    episodes = build_episodes([first, again])
    ended = next(e for e in episodes if e.procedure_ids == (first.id,))
    assert ended.ended_at == again.performed_at
    point = due_point(ended, [], at(11), None, R)
    assert point is not None and point.day in (7, 14)  # before the repeat: due
    assert due_point(ended, [], at(12), None, R) is None  # from the repeat on: closed
    assert due_point(ended, [], at(30), None, R) is None
    # the repeat starts its own episode, counted from its own t0
    found = due_points(episodes, [], at(12 + 7), None, R)
    assert [(e.procedure_ids, p.day) for e, p in found] == [((again.id,), 7)]
    # a later procedure on other levels ends nothing
    other = build_episodes([vp(levels=("T9",)), vp(at=at(12), levels=("L1",))])
    assert len(due_points(other, [], at(17), None, R)) == 2


def test_a_patient_who_died_has_nothing_due() -> None:
    e = episode()
    moment = at(30)
    assert due_point(e, [], moment, moment.date(), R) is None  # died that day
    assert due_point(e, [], moment, date(2020, 3, 20), R) is None  # died before
    alive_then = due_point(e, [], moment, moment.date() + timedelta(days=1), R)
    assert alive_then is not None and alive_then.day == 30  # planning before a later death


def test_only_vertebroplasty_and_kyphoplasty_are_followed_and_a_series_from_its_last_session() -> (
    None
):
    for kind in ("radiotherapy", "cryoablation", "surgery", "radiofrequency_ablation"):
        assert due_point(episode(vp(kind=kind)), [], at(7), None, R) is None
    assert due_point(episode(vp(kind="kyphoplasty")), [], at(7), None, R) is not None
    series = uuid.uuid4()
    staged = episode(
        vp(levels=("T1", "T6"), series=series), vp(at=at(7), levels=("T11",), series=series)
    )
    assert staged.t0 == at(7)
    point = due_point(staged, [], at(14), None, R)
    assert point is not None and point.day == 7 and point.due_at == at(14)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.floats(min_value=-5, max_value=450),
    scored=st.lists(st.floats(min_value=0.01, max_value=450), max_size=6),
)
def test_a_due_time_point_always_has_its_window_open_and_any_open_window_gives_one(
    moment: float, scored: list[float]
) -> None:
    e = episode()
    scores = [pain(d) for d in scored]
    point = due_point(e, scores, at(moment), None, R)
    open_days = [d for d, w in DOMAIN_WINDOWS.items() if at(d - w) <= at(moment) <= at(d + w)]
    if not open_days:
        assert point is None
        return
    assert point is not None and point.day in open_days
    assert point.window_opens <= at(moment) <= point.window_closes
    taken = [s for s in scores if s.occurred_at <= at(moment)]
    in_window = [s for s in taken if point.window_opens <= s.occurred_at <= point.window_closes]
    assert point.score_in_window == bool(in_window)
    # the earliest open time point without a score is the one due (else the last open)
    unscored = [
        d
        for d in sorted(open_days)
        if not any(
            at(d - DOMAIN_WINDOWS[d]) <= s.occurred_at <= at(d + DOMAIN_WINDOWS[d]) for s in taken
        )
    ]
    assert point.day == (unscored[0] if unscored else max(open_days))


def test_the_rules_and_words_import_neither_the_orm_nor_fastapi() -> None:
    script = (
        "import importlib, json, sys\n"
        "for name in ('app.worklist.rules', 'app.worklist.text'): importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('app.models',"
        " 'sqlalchemy', 'app.db', 'app.config', 'fastapi')))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
