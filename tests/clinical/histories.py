"""Patient histories for the SQL-against-the-rules tests: random ones, and stored."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from app.clinical.episodes import ProcedureFact
from app.clinical.levels import LEVEL_POSITION
from app.clinical.pain import PainFact
from app.db import get_sessionmaker
from app.models import FollowUpEvent, LevelTreated, Patient, Procedure, ProcedureSeries

T0 = datetime(2021, 6, 1, 8, 0, tzinfo=UTC)
KINDS = ["vertebroplasty", "vertebroplasty", "kyphoplasty", "cryoablation", "radiotherapy"]


def random_history(
    rnd: random.Random, t0: datetime = T0, hours: int = 5
) -> tuple[list[ProcedureFact], list[PainFact], date | None]:
    """1-3 procedures from t0 (some staged, some for leg pain) at up to `hours` past the hour
    of t0, up to 9 scores (back, leg or other pain, some on a window's edge), sometimes a date
    of death."""
    procedures = []
    series = uuid.uuid4() if rnd.random() < 0.3 else None
    for i in range(rnd.randint(1, 3)):
        days = rnd.choice([0, 5, 10, 14, 20, 40]) * i
        at = t0 + timedelta(days=days, hours=rnd.randint(0, hours))
        procedures.append(
            ProcedureFact(
                uuid.uuid4(),
                at,
                rnd.choice(KINDS) if series is None or i > 1 else "vertebroplasty",
                frozenset(rnd.sample(["L1", "L2", "L3"], rnd.randint(1, 2))),
                series if i < 2 else None,
                rnd.choice(["back", "back", "leg"]),
            )
        )
    scores = [
        PainFact(
            t0 + timedelta(days=rnd.uniform(-35, 80)),
            float(rnd.randint(0, 10)) if rnd.random() < 0.8 else rnd.choice([2.1, 3.3, 6.5]),
            rnd.choice(["back", "back", "leg", "leg", "other"]),
            uuid.uuid4(),
        )
        for _ in range(rnd.randint(0, 8))
    ]
    # a score exactly on a boundary, sometimes
    if rnd.random() < 0.4:
        edge = rnd.choice([0, 7, 14, -30])
        site = rnd.choice(["back", "leg"])
        scores.append(PainFact(t0 + timedelta(days=edge), 5.0, site, uuid.uuid4()))
    died = (t0 + timedelta(days=rnd.randint(5, 60))).date() if rnd.random() < 0.15 else None
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
                    target_pain_site=p.target_site,
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


async def one_patient(
    t0: datetime, scores: list[tuple[datetime, float]], died: date | None = None
) -> uuid.UUID:
    """A vertebroplasty of L1 at t0 and back-pain scores; returns the episode key."""
    procedure = ProcedureFact(uuid.uuid4(), t0, "vertebroplasty", frozenset({"L1"}))
    facts = [PainFact(at, score, "back", uuid.uuid4()) for at, score in scores]
    await store([procedure], facts, died)
    return procedure.id
