"""The set-based SQL of the sweep against the pure rules, on random histories, on the real DB,
and the paper's three cases as a clinician reading DOMAIN.md would flag them."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from httpx import AsyncClient
from sqlalchemy import select

from app.db import get_sessionmaker
from app.episodes.rules import PainFact, ProcedureFact
from app.models import Day14Check, FollowUpEvent, LevelTreated, Patient, Procedure, ProcedureSeries
from app.patients.service import find_by_identifier
from app.procedures.levels import LEVEL_POSITION
from app.seeding import SEED_SYSTEM, load_all
from app.triggers import rules
from app.triggers.service import trigger_rules
from tests.triggers.helpers import sweep, triggers

T0 = datetime(2021, 6, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
KINDS = ["vertebroplasty", "vertebroplasty", "kyphoplasty", "cryoablation", "radiotherapy"]


def random_history(
    rnd: random.Random,
) -> tuple[list[ProcedureFact], list[PainFact], date | None]:
    procedures = []
    series = uuid.uuid4() if rnd.random() < 0.3 else None
    for i in range(rnd.randint(1, 3)):
        at = T0 + timedelta(days=rnd.choice([0, 5, 10, 14, 20, 40]) * i, hours=rnd.randint(0, 5))
        procedures.append(
            ProcedureFact(
                uuid.uuid4(),
                at,
                rnd.choice(KINDS) if series is None or i > 1 else "vertebroplasty",
                frozenset(rnd.sample(["L1", "L2", "L3"], rnd.randint(1, 2))),
                series if i < 2 else None,
            )
        )
    scores = [
        PainFact(
            T0 + timedelta(days=rnd.uniform(-35, 80)),
            float(rnd.randint(0, 10)) if rnd.random() < 0.8 else rnd.choice([2.1, 3.3, 6.5]),
            rnd.choice(["back", "back", "back", "leg"]),
            uuid.uuid4(),
        )
        for _ in range(rnd.randint(0, 8))
    ]
    # a score exactly on a boundary, sometimes
    if rnd.random() < 0.4:
        edge = rnd.choice([0, 7, 14, -30])
        scores.append(PainFact(T0 + timedelta(days=edge), 5.0, "back", uuid.uuid4()))
    died = (T0 + timedelta(days=rnd.randint(5, 60))).date() if rnd.random() < 0.15 else None
    return procedures, scores, died


async def store(
    procedures: list[ProcedureFact], scores: list[PainFact], died: date | None
) -> uuid.UUID:
    async with get_sessionmaker()() as session, session.begin():
        patient = Patient(sex="unknown", death_date=died)
        session.add(patient)
        await session.flush()
        for series_id in {p.series_id for p in procedures if p.series_id}:
            session.add(ProcedureSeries(id=series_id, patient_id=patient.id, planned_sessions=2))
        await session.flush()
        for stage, p in enumerate(procedures, start=1):
            session.add(
                Procedure(
                    id=p.id,
                    patient_id=patient.id,
                    kind=p.kind,
                    performed_at=p.performed_at,
                    series_id=p.series_id,
                    stage_number=stage if p.series_id else None,
                    levels=[LevelTreated(level=lv, position=LEVEL_POSITION[lv]) for lv in p.levels],
                )
            )
        for s in scores:
            session.add(
                FollowUpEvent(
                    id=s.id,
                    patient_id=patient.id,
                    kind="pain",
                    occurred_at=s.occurred_at,
                    scale="nrs11",
                    value=s.score,
                    score=s.score,
                    site=s.site,
                )
            )
        return patient.id


async def test_the_sweep_decides_as_the_pure_rules_do() -> None:
    rnd = random.Random(20191115)
    expected: dict[uuid.UUID, dict[uuid.UUID, str]] = {}
    for _ in range(60):
        procedures, scores, died = random_history(rnd)
        patient = await store(procedures, scores, died)
        evaluation = rules.evaluate(procedures, scores, died, NOW, trigger_rules())
        expected[patient] = {d.episode.key: d.outcome.value for d in evaluation.day14}
    await sweep(NOW)
    async with get_sessionmaker()() as session:
        checks = (await session.scalars(select(Day14Check))).all()
    found: dict[uuid.UUID, dict[uuid.UUID, str]] = {p: {} for p in expected}
    for c in checks:
        found[c.patient_id][c.episode_key] = c.outcome
    assert found == expected
    assert {o for per in expected.values() for o in per.values()} >= {
        "improved",
        "no_improvement",
        "follow_up_overdue",
        "baseline_missing",
    }


async def test_the_papers_cases(client: AsyncClient) -> None:
    await load_all(get_sessionmaker())
    await sweep()  # today: every episode of the paper is long past its day 14
    await sweep()
    async with get_sessionmaker()() as session:
        patients = {
            key: (await find_by_identifier(session, SEED_SYSTEM, key))
            for key in ("paper-case-1", "paper-case-2", "paper-case-3")
        }
    found = {
        key: [
            (t["rule"], t["status"], t["due_at"], t["levels"])
            for t in await triggers(client, patient_id=str(p.id))
        ]
        for key, p in patients.items()
        if p is not None
    }
    assert found == {
        # baseline 7, day 7: 5 (improved), then 0; back pain 6 seven months later
        "paper-case-1": [("worsening", "open", "2019-08-15T10:00:00Z", ["T7", "T12"])],
        # L3 three times: baseline 0 the first time; leg pain only afterwards
        "paper-case-2": [],
        # staged series: t0 = the second session (04-30); nothing scored by day 14
        "paper-case-3": [
            (
                "follow_up_overdue",
                "open",
                "2019-05-14T09:00:00Z",
                ["T1", "T6", "T7", "T9", "T11", "L2", "L3", "L4"],
            )
        ],
    }
    case1 = patients["paper-case-1"]
    assert case1 is not None
    case = (await client.get(f"/api/v1/cases/{case1.id}")).json()
    assert [c["outcome"] for c in case["day14_checks"]] == ["improved"]
    case2 = patients["paper-case-2"]
    assert case2 is not None
    case = (await client.get(f"/api/v1/cases/{case2.id}")).json()
    assert [c["outcome"] for c in case["day14_checks"]] == [
        "baseline_below_threshold",
        "baseline_missing",
        "baseline_missing",
    ]
