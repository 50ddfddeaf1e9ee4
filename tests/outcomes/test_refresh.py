"""Bringing the summary up to date: `vertebro stats refresh`, and readers queued behind one
refresh that do not each refresh again."""

import asyncio

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from app.cli import app as cli
from app.clinical.definitions import Definitions
from app.config import get_settings
from app.db import get_engine
from app.models import OutcomeDirty, OutcomeEpisode
from app.outcomes import summary
from tests.factories import add_pain, make_patient, make_procedure

runner = CliRunner()


async def _dirty(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutcomeDirty)) or 0)


async def _treated_patient(client: AsyncClient) -> str:
    patient = (await make_patient(client))["id"]
    await make_procedure(client, patient)
    await add_pain(client, patient, "2019-02-10T10:00:00Z", 7)
    return str(patient)


async def test_the_command_brings_the_summary_up_to_date(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _treated_patient(client)
    assert await _dirty(sessionmaker) > 0
    result = await asyncio.to_thread(runner.invoke, cli, ["stats", "refresh"])
    assert result.exit_code == 0, result.output
    assert "outcome summary current" in result.output
    assert await _dirty(sessionmaker) == 0
    async with sessionmaker() as session:
        episodes = await session.scalar(select(func.count()).select_from(OutcomeEpisode))
    assert episodes == 1


async def test_a_refresh_covered_by_an_earlier_one_does_nothing(
    client: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    defs = Definitions.from_settings(get_settings())
    await _treated_patient(client)
    async with get_engine().begin() as conn:  # the first build
        assert await summary.refresh(conn, defs) > 0
    async with get_engine().connect() as conn:  # a reader starts: nothing to cover
        current, _generation, before = await summary.state_and_latest(conn, defs)
    assert current
    await _treated_patient(client)  # a write after it started
    async with get_engine().connect() as conn:
        current, _generation, latest = await summary.state_and_latest(conn, defs)
    assert not current and latest > before
    async with get_engine().begin() as conn:  # that reader gets the lock: nothing for it
        assert await summary.refresh(conn, defs, upto=before) == 0
    assert await _dirty(sessionmaker) > 0  # left for the readers that need it
    async with get_engine().begin() as conn:  # one that started after it
        assert await summary.refresh(conn, defs, upto=latest) > 0
    assert await _dirty(sessionmaker) == 0
