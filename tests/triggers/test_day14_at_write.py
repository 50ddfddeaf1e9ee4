"""A day-14 decision already due is taken by the write that makes it decidable, when it rests
on data present (rules.DECIDED_AT_WRITE): a procedure entered late, whose day 14 has passed and
whose scores show no improvement, opens its no_improvement trigger in the same request, through
every door, and the sweep does not open it again. Decisions that rest on absent data (no
baseline, no score in the window) stay the sweep's, taken at the due time."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from app.db import get_sessionmaker
from app.models import Day14Check, ImagingTrigger
from tests.factories import add_pain, make_procedure
from tests.triggers.helpers import T0, day, iso, sweep, triggers
from tests.triggers.test_re_evaluation import (
    _patient,
    _procedure_as_an_event,
    _procedure_over_fhir,
    _procedure_over_rest,
)

NO_IMPROVEMENT = [(-3, 8), (10, 8)]  # baseline 8, 8 again at day 10: seen, not improved


async def _outcomes() -> list[str]:
    async with get_sessionmaker()() as session:
        return sorted((await session.scalars(select(Day14Check.outcome))).all())


async def _open_rules(client: AsyncClient) -> list[str]:
    return sorted(t["rule"] for t in await triggers(client) if t["status"] == "open")


@pytest.mark.parametrize(
    "record_procedure",
    [_procedure_over_rest, _procedure_as_an_event, _procedure_over_fhir],
    ids=["rest", "event", "fhir-procedure"],
)
async def test_a_late_procedure_gets_its_no_improvement_at_the_write(
    client: AsyncClient, record_procedure: Callable[[AsyncClient, str], Awaitable[None]]
) -> None:
    patient = await _patient(client)
    for n, score in NO_IMPROVEMENT:
        await add_pain(client, patient, iso(day(n)), score)
    await record_procedure(client, patient)  # T0 is in 2019: its day 14 passed long ago
    assert await _open_rules(client) == ["no_improvement"]  # no sweep has run
    assert await _outcomes() == ["no_improvement"]
    (trigger,) = await triggers(client)
    roles = sorted(e["role"] for e in trigger["evidence"])
    assert roles == ["baseline", "score"]
    assert (await sweep()).fired == 0  # the sweep finds it decided: nothing doubled
    assert len(await triggers(client)) == 1


async def test_an_improvement_is_decided_at_the_write_and_fires_nothing(
    client: AsyncClient,
) -> None:
    patient = await _patient(client)
    await add_pain(client, patient, iso(day(-3)), 8)
    await add_pain(client, patient, iso(day(9)), 3)
    await make_procedure(client, patient, performed_at=iso(T0))
    assert await _outcomes() == ["improved"] and await triggers(client) == []


async def test_absent_data_is_left_to_the_sweep(client: AsyncClient) -> None:
    patient = await _patient(client)
    await add_pain(client, patient, iso(day(-3)), 7)  # a baseline, no score in the window
    await make_procedure(client, patient, performed_at=iso(T0))
    assert await _outcomes() == [] and await triggers(client) == []
    assert (await sweep()).fired == 1
    assert await _open_rules(client) == ["follow_up_overdue"]
    other = await _patient_without_scores(client)
    await make_procedure(client, other, performed_at=iso(T0), levels=[{"level": "L2"}])
    assert "baseline_missing" not in await _outcomes()  # no baseline: also the sweep's
    await sweep()
    assert "baseline_missing" in await _outcomes()


async def _patient_without_scores(client: AsyncClient) -> str:
    from tests.factories import make_patient

    patient: str = (await make_patient(client))["id"]
    return patient


async def test_a_sweep_racing_the_write_opens_the_trigger_once(client: AsyncClient) -> None:
    patient = await _patient(client)
    for n, score in NO_IMPROVEMENT:
        await add_pain(client, patient, iso(day(n)), score)
    await asyncio.gather(
        make_procedure(client, patient, performed_at=iso(T0)),
        sweep(),
        sweep(),
    )
    await sweep()
    async with get_sessionmaker()() as session:
        opened = (await session.scalars(select(ImagingTrigger))).all()
    assert [t.rule for t in opened] == ["no_improvement"]
    assert await _outcomes() == ["no_improvement"]


async def test_racing_writes_and_sweeps_open_the_trigger_once(client: AsyncClient) -> None:
    patient = await _patient(client)
    await add_pain(client, patient, iso(day(-3)), 8)
    await make_procedure(client, patient, performed_at=iso(T0))  # due long ago, no score yet
    await asyncio.gather(
        add_pain(client, patient, iso(day(10)), 8),
        add_pain(client, patient, iso(day(12)), 9),
        sweep(),
        sweep(),
    )
    await sweep()
    async with get_sessionmaker()() as session:
        opened = (await session.scalars(select(ImagingTrigger))).all()
    # a sweep that ran before the scores may have decided follow_up_overdue, since revised
    assert [t.rule for t in opened if t.status == "open"] == ["no_improvement"]
    assert [t.rule for t in opened].count("no_improvement") == 1
    assert {t.status for t in opened if t.rule != "no_improvement"} <= {"superseded"}
    assert await _outcomes() == ["no_improvement"]
