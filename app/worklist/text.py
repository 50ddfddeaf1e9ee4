"""The worklist's words (pure): a trigger's evidence as one plain sentence, a due pain score's
sentence, and a label that tells patients apart without an identifier.

A trigger's site comes from its evidence rows' follow-up events: rule A reads the pain the
episode targets (back or leg), rule B always back pain (clinical-rules.md section 3).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from app.clinical.enums import HistologyGroup, PainSite, TriggerRule

# the rule's words after the colon; "{when}" is the check's time ("2 weeks", "day 10")
RULE_WORDS: dict[str, str] = {
    TriggerRule.no_improvement: "no improvement at {when}",
    TriggerRule.follow_up_overdue: "follow-up overdue at {when}",
    TriggerRule.worsening: "worsening after improvement",
}
SEX_LETTER = {"female": "F", "male": "M", "other": "X"}


@dataclass(frozen=True)
class EvidenceFact:
    role: str  # app.triggers.rules.EvidenceRole
    score: float
    occurred_at: datetime
    site: str | None  # of the follow-up event; None: not recorded, read as back pain


def score_text(score: float) -> str:
    """8.0 -> "8/10", 7.5 -> "7.5/10"."""
    return f"{score:g}/10"


def day_after(at: datetime, t0: datetime) -> int:
    """Whole elapsed days after t0 (clinical-rules.md: "day d after t0" is elapsed time)."""
    return (at - t0).days


def levels_text(levels: Sequence[str]) -> str:
    """["T7"] -> "T7"; ["T7", "T12"] -> "T7 and T12"; three or more: "T1, T6 and T7"."""
    if not levels:
        return "untreated-level"
    if len(levels) == 1:
        return levels[0]
    return ", ".join(levels[:-1]) + " and " + levels[-1]


def procedure_text(kind: str, levels: Sequence[str]) -> str:
    return f"{levels_text(levels)} {kind.replace('_', ' ')}"


def weeks_or_days(days: int) -> str:
    return f"{days // 7} weeks" if days % 7 == 0 and days >= 14 else f"day {days}"


def site_word(site: str | None) -> str:
    """ "Back" or "Leg" (or "Other"), capitalised to open a sentence."""
    return (site or PainSite.back).capitalize()


def trigger_sentence(
    rule: str,
    evidence: Sequence[EvidenceFact],
    t0: datetime,
    procedure_kind: str,
    levels: Sequence[str],
    *,
    check_day: int = 14,
    window_start_day: int = 7,
    baseline: float | None = None,
) -> str:
    """E.g. "Back pain 8/10 at day 12 against a baseline of 8/10: no improvement at 2 weeks
    after T9 vertebroplasty". `baseline`: the trigger's own, when no evidence row has one."""
    by_role: dict[str, list[EvidenceFact]] = {}
    for e in sorted(evidence, key=lambda e: e.occurred_at):
        by_role.setdefault(e.role, []).append(e)
    base = by_role.get("baseline", [None])[-1]
    words = RULE_WORDS.get(rule, rule.replace("_", " ")).format(when=weeks_or_days(check_day))
    after = f"after {procedure_text(procedure_kind, levels)}"
    base_score = base.score if base else baseline
    base_text = "no baseline" if base_score is None else f"a baseline of {score_text(base_score)}"
    if not evidence:  # nothing recorded to quote
        return f"{words[0].upper()}{words[1:]} {after} (against {base_text})"
    if rule == TriggerRule.worsening:
        worse = by_role.get("worsening", [None])[-1]
        lowest = by_role.get("lowest", [None])[-1]
        if worse is None:
            return f"Back pain worsened against {base_text}: {words} {after}"
        text = f"Back pain {score_text(worse.score)} at day {day_after(worse.occurred_at, t0)}"
        if lowest is not None:
            text += (
                f", up from {score_text(lowest.score)} at day {day_after(lowest.occurred_at, t0)}"
            )
        return f"{text} (against {base_text}): {words} {after}"
    site = (base.site if base else None) or next((e.site for e in evidence), None)
    scores = by_role.get("score", [])
    if rule == TriggerRule.no_improvement and scores:
        last = scores[-1]
        return (
            f"{site_word(last.site or site)} pain {score_text(last.score)} at day "
            f"{day_after(last.occurred_at, t0)} against {base_text}: {words} {after}"
        )
    return (
        f"No {site_word(site).lower()} pain score between day {window_start_day} and day "
        f"{check_day} against {base_text}: {words} {after}"
    )


def due_sentence(
    day: int,
    site: str,
    procedure_kind: str,
    levels: Sequence[str],
    window_opens: datetime,
    window_closes: datetime,
    score: float | None,
    score_at: datetime | None,
    t0: datetime,
) -> str:
    """E.g. "Day 14 back pain score due after T9 vertebroplasty (window 2019-02-24 to
    2019-03-04): none recorded in the window yet"."""
    head = (
        f"Day {day} {site_word(site).lower()} pain score due after "
        f"{procedure_text(procedure_kind, levels)} (window {window_opens.date().isoformat()} "
        f"to {window_closes.date().isoformat()})"
    )
    if score is None or score_at is None:
        return f"{head}: none recorded in the window yet"
    return f"{head}: {score_text(score)} recorded at day {day_after(score_at, t0)}"


def age_in_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def patient_label(
    patient_id: uuid.UUID,
    *,
    identifier: str | None,
    sex: str,
    birth_date: date | None,
    first_procedure_on: date | None,
    histology_group: str | None,
    first_level: str | None,
) -> str:
    """An identifier when the caller may see one; otherwise e.g. "F 14y IX T7 #3f2a": sex,
    age at the first procedure, ICCC-3 group, the first level treated (craniocaudal), and the
    last four hex digits of the patient id (random in a UUIDv7), so two alike still differ."""
    if identifier:
        return identifier
    parts = [SEX_LETTER.get(sex, "?")]
    if birth_date and first_procedure_on:
        parts.append(f"{age_in_years(birth_date, first_procedure_on)}y")
    if histology_group:
        parts.append(HistologyGroup(histology_group).value)
    if first_level:
        parts.append(first_level)
    parts.append(f"#{patient_id.hex[-4:]}")
    return " ".join(parts)
