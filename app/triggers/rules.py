"""The imaging triggers of clinical-rules.md section 3, as pure functions: history in, triggers out.

Episodes, baseline, "improved" and "worsened" come from `app.clinical`. This module adds:

- Rule A, the day-14 check (`day14`): due at t0 + 14 d, for augmentation episodes whose baseline
  B >= 2. No improved score in (t0, t0 + 14 d] and at least one score in
  [t0 + 7 d, t0 + 14 d] -> "no_improvement"; no score in that window either -> the distinct
  "follow_up_overdue" alert. No baseline -> "baseline_missing" (a flag, never a trigger).
  An episode ended (a later procedure on one of its levels) on or before its due time, or a
  patient who died on or before the due day (the clinical day of the due time,
  app.clinical.days), gets no day-14 trigger.
- Rule B, worsening after improvement (`worsenings`): after an improved score, a later score s
  fires when s - (lowest score since that improvement) >= 2, or s >= B. Once per worsening:
  the worsening lasts while scores stay worsened against the same reference, and only a new
  improved score that is no longer worsened re-arms the rule. A worsening is identified by the
  improved score that armed it, so late data that moves its first worsened score does not
  make it a new one.

Scores are judged by when they were taken (occurred_at). Rule A reads the scores of the site
the episode's procedure targets (back by default, or leg), its baseline included; rule B reads
back-pain scores against a back-pain baseline (the same scores for a back-targeted episode).
Other sites fire nothing.
The set-based sweep (`app.triggers.sweep`) computes rule A in SQL with the same definitions;
the tests hold the two to each other.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from app.clinical.days import clinical_date
from app.clinical.definitions import Definitions
from app.clinical.enums import PainSite, TriggerRule
from app.clinical.episodes import Episode, ProcedureFact, build_episodes
from app.clinical.pain import (
    PainFact,
    back_pain,
    baseline,
    in_time_order,
    is_improved,
    is_worsened,
    target_pain,
)


class Day14Outcome(StrEnum):
    """What the day-14 check found; the first two fire a trigger of the same name."""

    no_improvement = "no_improvement"
    follow_up_overdue = "follow_up_overdue"
    improved = "improved"
    baseline_missing = "baseline_missing"
    baseline_below_threshold = "baseline_below_threshold"
    ended_before_due = "ended_before_due"
    patient_died = "patient_died"


FIRING_OUTCOMES = frozenset({Day14Outcome.no_improvement, Day14Outcome.follow_up_overdue})
# Decisions that rest on data present (a score, a baseline's value, a later procedure, a
# death): once the due time has passed, the write that makes one decidable takes it, as it
# fires rule B. The two that rest on data being absent (no baseline, no score in the window)
# are the sweep's, at the due time: a late procedure's scores often follow it by seconds, and
# deciding "missing" between the two would open and supersede a trigger for nothing.
DECIDED_AT_WRITE = frozenset(Day14Outcome) - {
    Day14Outcome.baseline_missing,
    Day14Outcome.follow_up_overdue,
}


class EvidenceRole(StrEnum):
    baseline = "baseline"
    score = "score"  # a target-site score of the day-14 window (t0, t0 + 14 d]
    improvement = "improvement"  # rule B: the improved score that armed it
    lowest = "lowest"  # rule B: the lowest score since that improvement
    worsening = "worsening"  # rule B: the score that fired it


@dataclass(frozen=True)
class Evidence:
    role: EvidenceRole
    event_id: uuid.UUID | None
    score: float
    occurred_at: datetime


@dataclass(frozen=True)
class Fired:
    rule: TriggerRule
    episode: Episode
    occurrence: uuid.UUID  # t0 session (rule A) or the arming improvement (rule B)
    due_at: datetime
    baseline: float | None
    evidence: tuple[Evidence, ...]

    @property
    def key(self) -> tuple[uuid.UUID, str, uuid.UUID]:
        return (self.episode.key, self.rule.value, self.occurrence)


@dataclass(frozen=True)
class Day14:
    episode: Episode
    due_at: datetime
    outcome: Day14Outcome
    baseline: PainFact | None
    fired: Fired | None


def t0_procedure(episode: Episode) -> uuid.UUID:
    """The last session: the day-14 check of an episode is identified by it."""
    return episode.procedure_ids[-1]


def due_at(episode: Episode, r: Definitions) -> datetime:
    return episode.t0 + timedelta(days=r.check_day)


def _evidence(role: EvidenceRole, s: PainFact) -> Evidence:
    return Evidence(role, s.id, s.score, s.occurred_at)


def day14(
    episode: Episode, scores: Sequence[PainFact], died_on: date | None, r: Definitions
) -> Day14:
    """Rule A for one augmentation episode, judged with every score taken up to its due time."""
    due = due_at(episode, r)
    base = baseline(episode, scores, r)

    def result(outcome: Day14Outcome, fired: Fired | None = None) -> Day14:
        return Day14(episode, due, outcome, base, fired)

    if died_on is not None and died_on <= clinical_date(due, r.time_zone):
        return result(Day14Outcome.patient_died)
    if episode.ended_at is not None and episode.ended_at <= due:
        return result(Day14Outcome.ended_before_due)
    if base is None:
        return result(Day14Outcome.baseline_missing)
    if base.score < r.min_baseline:
        return result(Day14Outcome.baseline_below_threshold)
    after = [s for s in target_pain(episode, scores) if episode.t0 < s.occurred_at <= due]
    if any(is_improved(base.score, s.score, r) for s in after):
        return result(Day14Outcome.improved)
    window_start = episode.t0 + timedelta(days=r.window_start_day)
    in_window = [s for s in after if s.occurred_at >= window_start]
    rule = TriggerRule.no_improvement if in_window else TriggerRule.follow_up_overdue
    evidence = (
        _evidence(EvidenceRole.baseline, base),
        *(_evidence(EvidenceRole.score, s) for s in after),
    )
    fired = Fired(rule, episode, t0_procedure(episode), due, base.score, evidence)
    return result(Day14Outcome(rule.value), fired)


def worsenings(episode: Episode, scores: Sequence[PainFact], r: Definitions) -> list[Fired]:
    """Rule B over the episode's back-pain scores, in the order they were taken, against its
    back-pain baseline (whatever site the episode targets)."""
    base = baseline(episode, scores, r, PainSite.back)
    if base is None:
        return []
    fired: list[Fired] = []
    armed_by: PainFact | None = None  # the improvement the next worsening would answer to
    lowest: PainFact | None = None
    worsening_from: float | None = None  # while a fired worsening lasts: its reference lowest
    for s in back_pain(scores):
        if not episode.contains(s.occurred_at):
            continue
        improved = is_improved(base.score, s.score, r)
        if worsening_from is not None:
            if improved and not is_worsened(s.score, worsening_from, base.score, r):
                worsening_from = None
                armed_by, lowest = s, s
            continue
        if armed_by is None:
            if improved:
                armed_by, lowest = s, s
            continue
        assert lowest is not None
        if is_worsened(s.score, lowest.score, base.score, r):
            fired.append(
                Fired(
                    TriggerRule.worsening,
                    episode,
                    armed_by.id or uuid.UUID(int=0),
                    s.occurred_at,
                    base.score,
                    (
                        _evidence(EvidenceRole.baseline, base),
                        _evidence(EvidenceRole.improvement, armed_by),
                        _evidence(EvidenceRole.lowest, lowest),
                        _evidence(EvidenceRole.worsening, s),
                    ),
                )
            )
            worsening_from, armed_by = lowest.score, None
        elif s.score < lowest.score:
            lowest = s
    return fired


@dataclass(frozen=True)
class Evaluation:
    episodes: list[Episode]
    day14: list[Day14]  # only for augmentation episodes whose due time has come
    worsenings: list[Fired]

    @property
    def fired(self) -> list[Fired]:
        return [d.fired for d in self.day14 if d.fired] + self.worsenings


def evaluate(
    procedures: Sequence[ProcedureFact],
    scores: Sequence[PainFact],
    died_on: date | None,
    now: datetime,
    r: Definitions,
) -> Evaluation:
    """Every trigger a patient's history calls for at `now`: a clinician's reading of it."""
    scores = in_time_order(scores)
    episodes = build_episodes(procedures)
    checks: list[Day14] = []
    worse: list[Fired] = []
    for e in episodes:
        if not e.is_augmentation:
            continue
        if due_at(e, r) <= now:
            checks.append(day14(e, scores, died_on, r))
        worse.extend(f for f in worsenings(e, scores, r) if f.due_at <= now)
    return Evaluation(episodes, checks, worse)
