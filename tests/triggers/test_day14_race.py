"""The race a write's day-14 decision can lose to a sweep (PostgreSQL, where they run at once):
the write plans "no improvement" from its own, not yet committed, day-10 score; a sweep that
cannot see that score decides "follow-up overdue" and commits its decision and alert first.
The write must not open its trigger beside the sweep's: it plans again from the sweep's
decision, revises it, and supersedes the alert (before the fix: both stayed open)."""

import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from app.db import get_sessionmaker, is_sqlite
from app.models import Day14Check, FollowUpEvent, ImagingTrigger
from app.models.base import new_id, utcnow
from app.triggers.evaluation import apply_plans, plan_evaluations
from tests.conftest import DATABASE_URL
from tests.factories import add_pain, make_procedure
from tests.triggers.helpers import T0, day, iso, sweep
from tests.triggers.test_re_evaluation import _patient

pytestmark = pytest.mark.skipif(
    is_sqlite(DATABASE_URL), reason="SQLite has one writer: a sweep cannot run beside a write"
)


async def test_a_sweep_that_decided_first_is_revised_not_doubled(client: AsyncClient) -> None:
    patient = uuid.UUID(await _patient(client))
    await add_pain(client, str(patient), iso(day(-3)), 8)  # a baseline, none in the window yet
    await make_procedure(client, str(patient), performed_at=iso(T0))  # day 14 long past
    now = utcnow()
    async with get_sessionmaker()() as writing:
        writing.add(
            FollowUpEvent(id=new_id(), patient_id=patient, kind="pain", occurred_at=day(10),
                          scale="nrs11", value=8, score=8, site="back")
        )  # fmt: skip
        await writing.flush()  # written, not committed: the sweep cannot see it
        plans = await plan_evaluations(writing, [patient], now)
        assert [d.outcome for p in plans for d in p.decided] == ["no_improvement"]
        assert (await sweep()).fired == 1  # it decided follow_up_overdue and committed
        await apply_plans(writing, plans, now)
        await writing.commit()
    async with get_sessionmaker()() as session:
        triggers = (await session.scalars(select(ImagingTrigger))).all()
        checks = (await session.scalars(select(Day14Check))).all()
    assert sorted((t.rule, t.status) for t in triggers) == [
        ("follow_up_overdue", "superseded"),
        ("no_improvement", "open"),
    ]
    assert [c.outcome for c in checks] == ["no_improvement"]
