"""The "no-baseline" warning: a vertebroplasty or kyphoplasty whose episode has no score of its
target pain site in the 30 days before its first session cannot be judged at day 14 (rule A
needs a baseline; clinical-rules.md section 3). The sender is told on the event's result, its
replays and the log, as the registry stands now: a baseline that arrives late removes it.
Unlike the other warnings this one reads the patient's history (three queries per answer that
holds procedure events, none otherwise)."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clinical.episodes import build_episodes
from app.clinical.pain import baseline
from app.ingestion.schemas import EventResult, EventWarning, LoggedEvent
from app.models import Procedure
from app.triggers.evaluation import load_histories, trigger_rules

PROCEDURE_EVENT = "procedure.performed"


def no_baseline_warning() -> EventWarning:
    return EventWarning(
        code="no-baseline",
        message="No pain score of the procedure's target site in the 30 days before its "
        "episode's first session: its day-14 check cannot judge improvement (no "
        "no-improvement alert) until one is recorded. Send the pre-procedure score; it may "
        "arrive late.",
        field="occurred_at",
    )


async def without_baseline(session: AsyncSession, procedure_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the procedures whose augmentation episode has no baseline, as now recorded."""
    if not procedure_ids:
        return set()
    patients = set(
        await session.scalars(select(Procedure.patient_id).where(Procedure.id.in_(procedure_ids)))
    )
    defs = trigger_rules()
    missing: set[uuid.UUID] = set()
    for history in (await load_histories(session, patients)).values():
        for episode in build_episodes(history.procedures):
            mine = procedure_ids.intersection(episode.procedure_ids)
            if mine and episode.is_augmentation and baseline(episode, history.scores, defs) is None:
                missing |= mine
    return missing


async def warn_missing_baselines(
    session: AsyncSession, answers: Sequence[EventResult | LoggedEvent]
) -> None:
    """Add the warning to the procedure events among `answers` that lack a baseline."""
    procedures = {
        a.ids.procedure_id
        for a in answers
        if a.type == PROCEDURE_EVENT and a.ids is not None and a.ids.procedure_id is not None
    }
    missing = await without_baseline(session, {p for p in procedures if p is not None})
    for answer in answers:
        if answer.type == PROCEDURE_EVENT and answer.ids and answer.ids.procedure_id in missing:
            answer.warnings.append(no_baseline_warning())
