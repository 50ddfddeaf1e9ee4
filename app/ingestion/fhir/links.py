"""Observation.partOf: a score is part of the procedure it was recorded against only while it
lies inside that procedure's episode (app.clinical.episodes, clinical-rules.md section 3): from the
episode's first session until a later procedure on any of its levels ends it. A score taken
before the episode began, or after another procedure on those levels, keeps its link in the
registry (and in `$transfer`, which is lossless) but is not `partOf` in the FHIR resources."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.clinical.episodes import Episode, ProcedureFact, build_episodes
from app.models import FollowUpEvent, Procedure


def inside(episode: Episode, event: FollowUpEvent) -> bool:
    return episode.first_at <= event.occurred_at and (
        episode.ended_at is None or event.occurred_at < episode.ended_at
    )


def _fact(procedure: Procedure) -> ProcedureFact:
    return ProcedureFact(
        id=procedure.id,
        performed_at=procedure.performed_at,
        kind=procedure.kind,
        levels=frozenset(lv.level for lv in procedure.levels),
        series_id=procedure.series_id,
        target_site=procedure.target_pain_site,
    )


async def episode_part_of(
    session: AsyncSession, events: Sequence[FollowUpEvent]
) -> dict[uuid.UUID, dict[str, Any]]:
    """event id -> its partOf reference (Procedure/<id>), for the events inside the episode of
    the procedure they are linked to."""
    linked = [e for e in events if e.procedure_id is not None]
    if not linked:
        return {}
    procedures = (
        await session.scalars(
            select(Procedure)
            .where(Procedure.patient_id.in_({e.patient_id for e in linked}))
            .options(selectinload(Procedure.levels))
        )
    ).all()
    by_patient: dict[uuid.UUID, list[ProcedureFact]] = {}
    for procedure in procedures:
        by_patient.setdefault(procedure.patient_id, []).append(_fact(procedure))
    episode_of: dict[uuid.UUID, Episode] = {}
    for facts in by_patient.values():  # episodes never span patients
        for episode in build_episodes(facts):
            episode_of.update(dict.fromkeys(episode.procedure_ids, episode))
    found = {}
    for event in linked:
        assert event.procedure_id is not None
        of = episode_of.get(event.procedure_id)
        if of is not None and inside(of, event):
            found[event.id] = {"reference": f"Procedure/{event.procedure_id}"}
    return found
