"""The follow-up worklist (issue 18, section 1): pain scores due and imaging triggers to act
on, one row per thing to do, most urgent first (`app.worklist.rules.urgency`).

The rows are planned at `as_of` (default: now) from the pure rules (`app.worklist.rules`)
over the histories the queries load; the filters and the cursor apply to the planned rows.
Only patients a page shows are loaded as ORM objects, so the audit trail notes exactly them.
"""

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.visibility import identifiers_visible
from app.clinical.days import clinical_date
from app.clinical.definitions import Definitions
from app.clinical.episodes import Episode, build_episodes
from app.common.http import etag
from app.errors import RuleViolation
from app.models.base import utcnow
from app.worklist import queries, rules
from app.worklist.queries import Session_, sort_levels
from app.worklist.schemas import WorklistKind, WorklistPage, WorklistQuery, WorklistRow
from app.worklist.text import due_sentence, patient_label, trigger_sentence


@dataclass(frozen=True)
class Planned:
    """A row before its patient's label: its sort key and every other field."""

    key: tuple[int, datetime, str]
    patient_id: uuid.UUID
    due_at: datetime
    levels: list[str]
    operators: list[str]
    fields: dict[str, Any]


def encode_cursor(key: tuple[int, datetime, str]) -> str:
    raw = json.dumps([key[0], key[1].isoformat(), key[2]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, str]:
    try:
        rank, at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(rank), datetime.fromisoformat(at), str(row_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise RuleViolation(
            "cursor", "This cursor was not issued by this API.", "bad-cursor"
        ) from exc


def _episode_fields(sessions: list[Session_]) -> dict[str, Any]:
    return {
        "procedure_kind": sessions[0].fact.kind,
        "levels": sort_levels(lv for s in sessions for lv in s.fact.levels),
        "operators": sorted({s.operator for s in sessions if s.operator}),
        "target_pain_site": sessions[0].fact.target_site,
    }


def _matches(p: Planned, query: WorklistQuery) -> bool:
    if query.due_before is not None and p.due_at > query.due_before:
        return False
    if query.due_after is not None and p.due_at < query.due_after:
        return False
    if query.level and query.level.upper() not in p.levels:
        return False
    wanted = query.operator.casefold() if query.operator else None
    return wanted is None or wanted in {o.casefold() for o in p.operators}


def _planned(key: tuple[int, datetime, str], fields: dict[str, Any]) -> Planned:
    return Planned(
        key, fields["patient_id"], fields["due_at"], fields["levels"], fields["operators"], fields
    )


async def _pain_rows(session: AsyncSession, as_of: datetime, defs: Definitions) -> list[Planned]:
    died_by = clinical_date(as_of, defs.time_zone)
    planned = []
    for patient_id, history in (await queries.followed_histories(session, as_of, died_by)).items():
        sessions = {s.fact.id: s for s in history.sessions}
        episodes: list[Episode] = build_episodes(s.fact for s in history.sessions)
        for episode, point in rules.due_points(
            episodes, history.scores, as_of, history.died_on, defs
        ):
            of_episode = [sessions[pid] for pid in episode.procedure_ids]
            fields = _episode_fields(of_episode)
            row_id = f"{episode.key}:{point.day}"
            score = point.score
            fields.update(
                id=row_id,
                kind=WorklistKind.pain_score_due,
                patient_id=patient_id,
                episode_key=episode.key,
                procedure_id=episode.procedure_ids[-1],
                t0=episode.t0,
                due_at=point.due_at,
                overdue=point.due_at < as_of,
                day=point.day,
                window_opens=point.window_opens,
                window_closes=point.window_closes,
                score_in_window=point.score_in_window,
                sentence=due_sentence(
                    point.day,
                    episode.target_site,
                    episode.kind,
                    fields["levels"],
                    point.window_opens,
                    point.window_closes,
                    score.score if score else None,
                    score.occurred_at if score else None,
                    episode.t0,
                ),
            )
            rank = rules.SCORE_TAKEN if point.score_in_window else rules.SCORE_MISSING
            planned.append(_planned(rules.urgency(rank, point.window_closes, row_id), fields))
    return planned


async def _trigger_rows(session: AsyncSession, as_of: datetime, defs: Definitions) -> list[Planned]:
    triggers = await queries.live_triggers(session, as_of, clinical_date(as_of, defs.time_zone))
    episodes = await queries.episode_sessions(session, {t.episode_key for t in triggers})
    evidence = await queries.evidence(session, [t.id for t in triggers])
    planned = []
    for t in triggers:
        sessions = episodes.get(t.episode_key)
        if not sessions:
            continue  # its procedures were removed: nothing to show it against
        fields = _episode_fields(sessions)
        fields.update(
            id=str(t.id),
            kind=WorklistKind.imaging_trigger,
            patient_id=t.patient_id,
            episode_key=t.episode_key,
            procedure_id=t.procedure_id,
            t0=t.t0,
            due_at=t.due_at,
            overdue=t.due_at < as_of,
            day=(t.due_at - t.t0).days,
            trigger_id=t.id,
            rule=t.rule,
            status=t.status,
            version=t.version,
            etag=etag(t.version),
            sentence=trigger_sentence(
                t.rule,
                evidence.get(t.id, []),
                t.t0,
                str(fields["procedure_kind"]),
                fields["levels"],
                check_day=defs.check_day,
                window_start_day=defs.window_start_day,
                baseline=t.baseline,
            ),
        )
        planned.append(_planned(rules.urgency(rules.TRIGGER, t.due_at, str(t.id)), fields))
    return planned


async def worklist(
    session: AsyncSession,
    query: WorklistQuery,
    defs: Definitions,
    *,
    identifiers: bool | None = None,
) -> WorklistPage:
    """One page of the worklist at `query.as_of` (now by default). `identifiers`: label rows
    with an external identifier when the caller may see them (default: the request's
    visibility, `app.auth.visibility`)."""
    as_of = query.as_of or utcnow()
    after = decode_cursor(query.cursor) if query.cursor else None
    planned: list[Planned] = []
    if query.kind in (None, WorklistKind.imaging_trigger) and (
        after is None or after[0] <= rules.TRIGGER
    ):
        planned.extend(await _trigger_rows(session, as_of, defs))
    if query.kind in (None, WorklistKind.pain_score_due):
        planned.extend(await _pain_rows(session, as_of, defs))
    rows = sorted(
        (p for p in planned if _matches(p, query) and (after is None or p.key > after)),
        key=lambda p: p.key,
    )
    page, more = rows[: query.limit], len(rows) > query.limit
    labels = await _labels(
        session,
        {p.patient_id for p in page},
        identifiers,
    )
    return WorklistPage(
        items=[
            WorklistRow.model_validate({**p.fields, "patient_label": labels[p.patient_id]})
            for p in page
        ],
        next_cursor=encode_cursor(page[-1].key) if more else None,
        as_of=as_of,
    )


async def _labels(
    session: AsyncSession, patient_ids: set[uuid.UUID], identifiers: bool | None
) -> dict[uuid.UUID, str]:
    show = identifiers_visible() if identifiers is None else identifiers
    facts = await queries.label_facts(session, patient_ids)
    labels = {}
    for pid in patient_ids:
        f = facts.get(pid)
        if f is None:
            labels[pid] = f"#{pid.hex[-4:]}"
            continue
        p = f.patient
        ids = sorted((i.system, i.value) for i in p.identifiers)
        labels[pid] = patient_label(
            pid,
            identifier=ids[0][1] if show and ids else None,
            sex=p.sex,
            birth_date=p.birth_date,
            first_procedure_on=f.first_procedure_at.date() if f.first_procedure_at else None,
            histology_group=p.histology_group,
            first_level=f.first_level,
        )
    return labels
