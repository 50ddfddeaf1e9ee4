"""Process faults: a server stopped mid-request, a delivery worker killed mid-delivery, a
sweep cancelled mid-transaction. Real subprocesses on 127.0.0.1 against the suite's database
(SQLite or PostgreSQL)."""

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator

import httpx
import pytest
from httpx import AsyncClient
from sqlalchemy import ColumnElement, func, select

import app.triggers.sweep as sweep_module
from app.auth.scopes import ALL_SCOPES
from app.db import get_sessionmaker
from app.models import Day14Check, EventLog, ImagingTrigger, OutboxMessage
from tests.conftest import DATABASE_URL, make_api_key
from tests.notifications.receiver import Receiver
from tests.notifications.test_delivery import open_triggers, subscribe
from tests.reliability.procs import pain_event, stop_process, uvicorn_server, vertebro
from tests.triggers.helpers import procedure_with_pain, sweep


async def _count(model: type, *where: ColumnElement[bool]) -> int:
    async with get_sessionmaker()() as session:
        counted = await session.scalar(select(func.count()).select_from(model).where(*where))
        return int(counted or 0)


async def test_sigterm_lets_the_request_in_flight_finish() -> None:
    """The request's headers have arrived when SIGTERM comes; its body arrives afterwards.
    uvicorn stops accepting, finishes that request (201, stored), then exits cleanly."""
    key = await make_api_key(*sorted(ALL_SCOPES))
    body = json.dumps(pain_event("graceful-1", "MRN-G")).encode()
    signalled = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield body[:20]
        await signalled.wait()
        await asyncio.sleep(0.5)  # well after the signal was handled
        yield body[20:]

    async with uvicorn_server(DATABASE_URL) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            posting = asyncio.create_task(
                client.post(
                    "/api/v1/events",
                    content=slow_body(),
                    headers={
                        "Authorization": f"Bearer {key}",
                        "Content-Type": "application/json",
                        "Content-Length": str(len(body)),
                    },
                )
            )
            await asyncio.sleep(1.0)  # the headers are in
            server.process.send_signal(signal.SIGTERM)
            signalled.set()
            response = await asyncio.wait_for(posting, 30)
            assert response.status_code == 201, response.text
        # a clean exit: uvicorn re-raises the signal it handled once it has shut down
        assert await asyncio.wait_for(server.process.wait(), 30) in (0, -signal.SIGTERM)
    assert await _count(EventLog, EventLog.event_id == "graceful-1") == 1


@pytest.fixture
async def held_receiver() -> AsyncIterator[Receiver]:
    receiver = await Receiver(gate=asyncio.Event()).start()  # holds every response
    yield receiver
    assert receiver.gate is not None
    receiver.gate.set()
    await receiver.stop()


async def test_a_worker_killed_mid_delivery_loses_nothing(
    client: AsyncClient, held_receiver: Receiver
) -> None:
    """`vertebro worker` is SIGKILLed while the receiver holds its request; a new worker
    delivers the same message (same id) once the lease has run out."""
    await subscribe(client, held_receiver.url)
    await open_triggers(client, 1)
    env = ("NOTIFICATIONS_POLL_INTERVAL_S", "0.2"), ("WEBHOOK_LEASE_S", "2")
    first = await vertebro(DATABASE_URL, "worker", env=dict(env))
    try:
        await held_receiver.wait_for(1)  # the worker is mid-delivery
        first.kill()
        await first.wait()
    finally:
        await stop_process(first)
    assert await _count(OutboxMessage, OutboxMessage.status == "pending") == 1
    assert held_receiver.gate is not None
    held_receiver.gate.set()  # the next attempt is answered
    second = await vertebro(DATABASE_URL, "worker", env=dict(env))
    try:
        await held_receiver.wait_for(2)
        for _ in range(200):
            if await _count(OutboxMessage, OutboxMessage.status == "delivered") == 1:
                break
            await asyncio.sleep(0.1)
    finally:
        await stop_process(second)
    ids = {r.message_id for r in held_receiver.requests}
    async with get_sessionmaker()() as session:
        message = (await session.scalars(select(OutboxMessage))).one()
    assert ids == {str(message.id)}
    assert message.status == "delivered"
    assert [r.headers["x-vertebro-attempt"] for r in held_receiver.requests[:2]] == ["1", "2"]


async def test_a_sweep_cancelled_mid_transaction_leaves_nothing_half_made(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep is cancelled after it inserted decisions, triggers and evidence but before
    it queued their messages: nothing of it stays (one transaction). The next sweep makes
    every trigger with its message."""
    await subscribe(client, "http://127.0.0.1:9/hooks")
    for _ in range(3):
        await procedure_with_pain(client, [(-3, 7)])
    assert await _count(ImagingTrigger) == 0
    reached = asyncio.Event()
    real_enqueue = sweep_module.enqueue_batch  # type: ignore[attr-defined]

    async def stuck(*_args: object) -> int:
        reached.set()
        await asyncio.Event().wait()  # forever: the task is cancelled here
        return 0

    monkeypatch.setattr(sweep_module, "enqueue_batch", stuck)
    task = asyncio.create_task(sweep())
    await asyncio.wait_for(reached.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _count(ImagingTrigger) == 0
    assert await _count(Day14Check) == 0
    assert await _count(OutboxMessage) == 0

    monkeypatch.setattr(sweep_module, "enqueue_batch", real_enqueue)
    assert (await sweep()).fired == 3
    async with get_sessionmaker()() as session:
        orphans = await session.scalar(
            select(func.count())
            .select_from(ImagingTrigger)
            .where(
                ~select(OutboxMessage.id)
                .where(OutboxMessage.trigger_id == ImagingTrigger.id)
                .exists()
            )
        )
    assert orphans == 0 and await _count(OutboxMessage) == 3


async def test_a_sweep_process_killed_mid_run_leaves_no_trigger_without_its_message(
    client: AsyncClient,
) -> None:
    """`vertebro triggers sweep` SIGKILLed at whatever point it reached (here: shortly after
    it started; the point reached varies, and the run may even have finished: the test above
    cancels one deterministically mid-transaction), then run again: every trigger has its
    outbox message, none is doubled."""
    await subscribe(client, "http://127.0.0.1:9/hooks")
    for _ in range(5):
        await procedure_with_pain(client, [(-3, 7)])
    for delay in (0.3, 0.6, 0.9):  # wherever each one got to (it may also have finished)
        killed = await vertebro(DATABASE_URL, "triggers", "sweep")
        await asyncio.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            killed.kill()
        await killed.wait()
    async with get_sessionmaker()() as session:
        orphans = await session.scalar(
            select(func.count())
            .select_from(ImagingTrigger)
            .where(
                ~select(OutboxMessage.id)
                .where(OutboxMessage.trigger_id == ImagingTrigger.id)
                .exists()
            )
        )
    assert orphans == 0
    again = await vertebro(DATABASE_URL, "triggers", "sweep")
    assert await asyncio.wait_for(again.wait(), 60) == 0
    assert await _count(ImagingTrigger) == 5
    assert await _count(OutboxMessage) == 5
