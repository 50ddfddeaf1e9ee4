"""Imaging triggers evaluated after the writing commit, from durable marks: the response
comes after the evaluation, a lost evaluation is recovered, concurrent requests share one;
which writes mark is decided once, by the flush listener (and `note_rows` for Core writes)."""

import asyncio
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ingestion import mappers
from app.ingestion import service as ingestion
from app.models import FollowUpEvent, ImagingTrigger, Patient, TriggerEvaluationMark
from app.models.base import utcnow
from app.seeding import load_all
from app.triggers import marks
from app.triggers.evaluation import plan_evaluations
from tests.factories import add_pain
from tests.ingestion.helpers import count, pain, post, procedure
from tests.triggers.helpers import day, iso, procedure_with_pain, sweep, triggers

# a procedure, a baseline of 8, improved to 2, worsened to 7: rule B (worsening) fires
WORSENING = [
    procedure("p1", "OR-1", ["L3"]),
    pain("b", 8, at="2019-02-05T10:00:00Z"),
    pain("s1", 2, at="2019-02-19T10:00:00Z"),
    pain("s2", 7, at="2019-03-01T10:00:00Z"),
]


async def _rules(client: AsyncClient) -> list[str]:
    items = (await client.get("/api/v1/imaging-triggers")).json()["items"]
    return [t["rule"] for t in items]


async def test_the_response_follows_the_evaluation_and_no_mark_is_left(
    client: AsyncClient,
) -> None:
    assert (await post(client, {"events": WORSENING})).json()["created"] == 4
    assert await _rules(client) == ["worsening"]
    assert await count(TriggerEvaluationMark) == 0
    # one event alone (the group-commit path) settles too: the improvement supersedes it
    assert (await post(client, pain("s3", 1, at="2019-03-02T10:00:00Z"))).status_code == 201
    stored = (await client.get("/api/v1/imaging-triggers")).json()["items"]
    assert [(t["rule"], t["status"]) for t in stored] == [("worsening", "open")]
    assert (await post(client, {"events": [pain("late", 1, at="2019-02-25T10:00:00Z")]})).json()[
        "created"
    ] == 1
    assert await count(TriggerEvaluationMark) == 0


async def test_an_evaluation_lost_after_the_commit_is_recovered(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The process dies between the ingesting commit and the evaluation: here, the events are
    processed and committed without running the work after the commit."""
    async with sessionmaker() as session:
        items = [mappers.parse_event(e) for e in WORSENING]
        results = await ingestion.process(session, items, isolate=True)
        await session.commit()  # not app.db.commit: what comes after it never runs
    assert [r.status for r in results] == ["created"] * 4
    assert await _rules(client) == []
    assert await count(TriggerEvaluationMark) == 1  # one patient

    assert await marks.recover(sessionmaker) == 0  # too fresh: its evaluation may be running
    assert await marks.recover(sessionmaker, grace=timedelta(0)) == 1
    assert await _rules(client) == ["worsening"]
    assert await count(TriggerEvaluationMark) == 0
    assert await marks.recover(sessionmaker, grace=timedelta(0)) == 0


async def test_a_failed_evaluation_keeps_the_events_and_the_mark(
    client: AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_args: Any) -> list[Any]:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(marks, "plan_evaluations", broken)
        body = (await post(client, {"events": WORSENING})).json()
    assert body["created"] == 4  # committed before the evaluation: the events stand
    assert await _rules(client) == []
    assert await count(TriggerEvaluationMark) == 1
    assert await marks.recover(sessionmaker, grace=timedelta(0)) == 1
    assert await _rules(client) == ["worsening"]


async def test_requests_finishing_together_share_one_evaluation(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds: list[set[uuid.UUID]] = []
    real = marks.evaluate_marked

    async def recording(session: AsyncSession, patients: Any, mark_ids: Any) -> None:
        rounds.append(set(patients))
        await real(session, patients, mark_ids)

    monkeypatch.setattr(marks, "evaluate_marked", recording)
    settler = marks.Settler(sessionmaker)
    a, b, c = (uuid.uuid4() for _ in range(3))
    async with settler._lock:  # a round is running: the three requests queue meanwhile
        waiting = [
            asyncio.create_task(settler.settle(patients, [])) for patients in ([a], [b, c], [a, c])
        ]
        await asyncio.sleep(0.05)
        assert rounds == []
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=10)
    assert rounds == [{a, b, c}]


async def test_no_round_grows_beyond_its_limit(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds: list[int] = []

    async def recording(session: AsyncSession, patients: Any, mark_ids: Any) -> None:
        rounds.append(len(set(patients)))

    monkeypatch.setattr(marks, "evaluate_marked", recording)
    monkeypatch.setattr(marks, "ROUND_PATIENTS", 3)
    settler = marks.Settler(sessionmaker)
    async with settler._lock:
        waiting = [
            asyncio.create_task(settler.settle([uuid.uuid4(), uuid.uuid4()], [])) for _ in range(3)
        ]
        await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=10)
    assert rounds == [4, 2]  # a request is never split; the next round takes the rest


async def test_stored_triggers_are_what_the_history_implies(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Many concurrent requests for the same patients: afterwards a fresh evaluation of every
    patient would change nothing."""
    events = [procedure(f"p{p}", f"OR-{p}", ["L3"], mrn=f"M{p}") for p in range(4)]
    for p in range(4):
        days = ["02-05", "02-14", "02-17", "02-20", "02-23", "02-26", "03-01"]
        for on, value in zip(days, [8, 2, 3, 7, 1, 6, 2], strict=True):
            events.append(pain(f"s{p}-{on}", value, at=f"2019-{on}T10:00:00Z", mrn=f"M{p}"))
    await post(client, {"events": events[:4]})
    responses = await asyncio.gather(*(post(client, e) for e in events[4:]))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert await count(TriggerEvaluationMark) == 0
    async with sessionmaker() as session:
        patients = (await session.scalars(select(ImagingTrigger.patient_id).distinct())).all()
        assert len(patients) == 4
        plans = await plan_evaluations(session, patients, utcnow())
        assert [p.changes for p in plans] == [False] * 4


async def test_rest_writes_evaluate_after_their_commit_too(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A pain score through the REST API: same path (mark, commit, evaluation under the
    patient's lock), and concurrent scores for one patient end consistent."""
    patient_id, _ = await procedure_with_pain(client, [(-3, 8), (7, 2)])
    await add_pain(client, patient_id, iso(day(17)), 7)  # worsened after improvement
    assert [t["rule"] for t in await triggers(client)] == ["worsening"]
    assert await count(TriggerEvaluationMark) == 0
    await asyncio.gather(
        *(add_pain(client, patient_id, iso(day(18 + n)), s) for n, s in enumerate([1, 6, 2, 7]))
    )
    assert await count(TriggerEvaluationMark) == 0
    async with sessionmaker() as session:
        plans = await plan_evaluations(session, [uuid.UUID(patient_id)], utcnow())
        assert [p.changes for p in plans] == [False]


# --- which writes mark: decided once, by the flush listener ----------------------------------


async def test_any_session_that_changes_a_history_leaves_a_mark(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Not only requests: a death date set on the ORM object and committed without
    `app.db.commit` (so nothing runs after it) is marked, and the sweep's recovery evaluates
    it."""
    patient_id, _ = await procedure_with_pain(client, [(-3, 7), (3, 6)])
    await sweep(day(14))
    assert [t["status"] for t in await triggers(client)] == ["open"]
    async with sessionmaker() as session:
        patient = await session.get(Patient, uuid.UUID(patient_id))
        assert patient is not None
        patient.death_date = day(10).date()
        await session.commit()
    assert await count(TriggerEvaluationMark) == 1
    assert await marks.recover(sessionmaker, grace=timedelta(0)) == 1
    assert [t["status"] for t in await triggers(client)] == ["superseded"]


async def test_what_is_no_part_of_a_history_or_rolled_back_leaves_no_mark(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    patient_id, procedure_id = await procedure_with_pain(client, [(-3, 7)])
    patient = uuid.UUID(patient_id)
    async with sessionmaker() as session:
        found = await session.get(Patient, patient)
        assert found is not None
        found.histology = "Wilms tumour"  # not read by the triggers
        session.add(
            FollowUpEvent(
                patient_id=patient, kind="performance", occurred_at=day(3), scale="lansky",
                value=70, score=70,
            )
        )  # fmt: skip
        await session.commit()
        assert await count(TriggerEvaluationMark) == 0
        found.death_date = day(10).date()
        await session.flush()  # noted, then rolled back: nothing to mark
        await session.rollback()
        found = await session.get(Patient, patient)
        assert found is not None and found.death_date is None
        found.histology = "rhabdomyosarcoma"
        await session.commit()
    assert await count(TriggerEvaluationMark) == 0
    assert procedure_id


async def test_core_writes_mark_through_note_rows(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A batch where one event is refused (each event then in its own savepoint, after the
    batch's savepoint rolled back): the Core-inserted scores still mark their patient once."""
    events = [*WORSENING, pain("bad", 11, at="2019-03-02T10:00:00Z")]
    async with sessionmaker() as session:
        items = [mappers.parse_event(e) for e in events]
        results = await ingestion.process(session, items, isolate=True)
        await session.commit()
    assert [r.status for r in results] == ["created"] * 4 + ["rejected"]
    assert await count(TriggerEvaluationMark) == 1
    assert await marks.recover(sessionmaker, grace=timedelta(0)) == 1
    assert await _rules(client) == ["worsening"]


async def test_the_seed_is_evaluated_after_each_case(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    loaded = await load_all(sessionmaker)
    assert all(loaded.values()) and len(loaded) == 3
    assert await count(TriggerEvaluationMark) == 0
    async with sessionmaker() as session:
        patients = (await session.scalars(select(Patient.id))).all()
        plans = await plan_evaluations(session, patients, utcnow())
        assert [p.changes for p in plans if p.changes] == []
        assert await session.scalar(select(func.count()).select_from(ImagingTrigger))


@pytest.mark.parametrize("entry_point", ["app.main", "app.seeding", "app.ingestion.service"])
def test_every_entry_point_that_writes_installs_the_listener(entry_point: str) -> None:
    """The listener is registered when app.triggers.marks is imported: whatever writes a
    history must import it (in a fresh interpreter: this one has imported everything)."""
    check = f"import sys, {entry_point}; assert 'app.triggers.marks' in sys.modules"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
