"""The worklist's database reads held to its pure rules: over the synthetic registry, the rows
at a moment are exactly what `app.worklist.rules.due_points` gives over each whole history
(the reads only narrow which histories and scores they load)."""

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from app.clinical.definitions import current
from app.clinical.episodes import ProcedureFact, build_episodes
from app.clinical.pain import PainFact
from app.db import get_engine, get_sessionmaker
from app.demo.synthetic import generate, insert_registry
from app.worklist.rules import due_points
from app.worklist.schemas import WorklistKind, WorklistQuery
from app.worklist.service import worklist

MOMENTS = [datetime(2019, 5, 1, 12, tzinfo=UTC) + timedelta(days=37 * i) for i in range(12)]


def expected(registry: Any, at: datetime) -> set[tuple[uuid.UUID, int, bool]]:
    levels: dict[uuid.UUID, set[str]] = defaultdict(set)
    for lv in registry.levels:
        levels[lv["procedure_id"]].add(lv["level"])
    procedures: dict[uuid.UUID, list[ProcedureFact]] = defaultdict(list)
    for p in registry.procedures:
        procedures[p["patient_id"]].append(
            ProcedureFact(
                p["id"],
                p["performed_at"],
                p["kind"],
                frozenset(levels[p["id"]]),
                p["series_id"],
                p.get("target_pain_site") or "back",
            )
        )
    scores: dict[uuid.UUID, list[PainFact]] = defaultdict(list)
    for e in registry.events:
        if e["kind"] == "pain" and e["score"] is not None:
            scores[e["patient_id"]].append(PainFact(e["occurred_at"], e["score"], e["site"]))
    rows = set()
    for patient in registry.patients:
        episodes = build_episodes(procedures[patient["id"]])
        for episode, point in due_points(
            episodes, scores[patient["id"]], at, patient["death_date"], current()
        ):
            rows.add((episode.key, point.day, point.score_in_window))
    return rows


async def test_the_rows_are_the_pure_rules_over_whole_histories() -> None:
    registry = generate(300, seed=18)
    async with get_engine().begin() as conn:
        await insert_registry(conn, registry)
    seen = 0
    for at in MOMENTS:
        want = expected(registry, at)
        got: set[tuple[uuid.UUID, int, bool]] = set()
        cursor = None
        async with get_sessionmaker()() as session:
            while True:
                query = WorklistQuery(
                    kind=WorklistKind.pain_score_due, as_of=at, cursor=cursor, limit=37
                )
                page = await worklist(session, query, current(), identifiers=False)
                for row in page.items:
                    assert row.day is not None and row.score_in_window is not None
                    got.add((row.episode_key, row.day, row.score_in_window))
                cursor = page.next_cursor
                if cursor is None:
                    break
        assert got == want, at
        seen += len(want)
    assert seen > 50  # the moments do find rows
