"""Webhook delivery to a real receiver on 127.0.0.1: signatures, outages, retries, crashes."""

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from app.config import Settings, get_settings
from app.db import get_sessionmaker
from app.main import create_app
from app.models import ImagingTrigger, OutboxMessage
from app.models.base import utcnow
from app.notifications import signing
from app.notifications.worker import Worker, backoff_s
from app.triggers import webhooks
from app.triggers.jobs import Sweeper
from tests.notifications.receiver import Receiver
from tests.triggers.helpers import procedure_with_pain, sweep

SECRET = "s3cret-for-the-receiver-tests"


def worker_settings(**overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "webhook_max_attempts": 3,
        "webhook_backoff_base_s": 60.0,
        "webhook_backoff_jitter": 0.25,
        "webhook_timeout_s": 5.0,
        "webhook_lease_s": 30.0,
        "webhook_batch_size": 20,
    }
    return get_settings().model_copy(update={**defaults, **overrides})


def trigger_worker(settings: Settings, **kw: Any) -> Worker:
    """A delivery worker as the app starts one: the triggers area renders its messages."""
    return Worker(get_sessionmaker(), settings, payload=webhooks.payload, **kw)


async def subscribe(client: AsyncClient, url: str, **extra: Any) -> dict[str, Any]:
    body = {"url": url, "events": ["imaging_trigger.opened"], "secret": SECRET, **extra}
    response = await client.post("/api/v1/subscriptions", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def open_triggers(client: AsyncClient, n: int) -> None:
    """n patients whose day 14 passed without a score: n follow-up-overdue triggers."""
    for _ in range(n):
        await procedure_with_pain(client, [(-3, 7)])
    assert (await sweep()).fired == n


async def statuses() -> Counter[str]:
    async with get_sessionmaker()() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return Counter({status: count for status, count in rows})


async def test_signed_delivery_with_a_stable_id(client: AsyncClient, receiver: Receiver) -> None:
    subscription = await subscribe(client, receiver.url)
    assert (
        subscription["secret"] == SECRET
        and "secret" not in (await client.get(f"/api/v1/subscriptions/{subscription['id']}")).json()
    )
    await open_triggers(client, 1)
    assert await trigger_worker(worker_settings()).run_once() == 1
    (got,) = receiver.requests
    signature = got.headers["x-vertebro-signature"]
    assert signing.verify(SECRET, signature, got.body)
    assert not signing.verify(SECRET, signature, got.body + b" ")
    assert not signing.verify("another-secret-entirely", signature, got.body)
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    assert signature == f"t={timestamp},v1={signing.digest(SECRET, timestamp, got.body)}"
    body = got.json()
    assert body["type"] == got.headers["x-vertebro-event"] == "imaging_trigger.opened"
    assert body["id"] == got.message_id
    assert body["data"]["trigger"]["rule"] == "follow_up_overdue"
    (delivery,) = (await client.get("/api/v1/webhook-deliveries")).json()["items"]
    assert delivery["id"] == got.message_id and delivery["status"] == "delivered"
    assert [(a["number"], a["status_code"], a["outcome"]) for a in delivery["log"]] == [
        (1, 200, "delivered")
    ]
    assert await trigger_worker(worker_settings()).run_once() == 0


async def test_receiver_down_then_up_loses_nothing(client: AsyncClient, receiver: Receiver) -> None:
    await subscribe(client, receiver.url)
    await receiver.stop()  # the port is known, nobody listens
    await open_triggers(client, 3)
    worker = trigger_worker(worker_settings())
    now = utcnow()
    assert await worker.run_once(now) == 3
    assert await statuses() == Counter(pending=3)
    assert await worker.run_once(now) == 0  # backing off
    await receiver.start()
    assert await worker.run_once(now + timedelta(hours=1)) == 3
    assert await statuses() == Counter(delivered=3)
    assert len({r.message_id for r in receiver.requests}) == len(receiver.requests) == 3
    log = (await client.get("/api/v1/webhook-deliveries")).json()["items"]
    assert sorted(a["outcome"] for d in log for a in d["log"]) == ["delivered"] * 3 + ["retry"] * 3


async def test_a_failing_receiver_is_retried_then_dead_then_redelivered(
    client: AsyncClient, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url)
    await open_triggers(client, 1)
    receiver.status = 500
    worker = trigger_worker(worker_settings(webhook_max_attempts=3))
    now = utcnow()
    for hour in range(6):  # far enough apart for any backoff of this configuration
        await worker.run_once(now + timedelta(hours=hour))
    assert len(receiver.requests) == 3
    assert len({r.message_id for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes every time
    assert [r.headers["x-vertebro-attempt"] for r in receiver.requests] == ["1", "2", "3"]
    (delivery,) = (
        await client.get("/api/v1/webhook-deliveries", params={"status": "dead"})
    ).json()["items"]
    assert [(a["status_code"], a["outcome"]) for a in delivery["log"]] == [
        (500, "retry"),
        (500, "retry"),
        (500, "dead"),
    ]
    receiver.status = 200
    again = await client.post(f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    assert await worker.run_once() == 1
    assert receiver.requests[-1].message_id == delivery["id"]
    assert receiver.requests[-1].body == receiver.requests[0].body
    assert await statuses() == Counter(delivered=1)
    conflict = await client.post(f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver")
    assert conflict.status_code == 202  # delivered messages may be sent again on request


async def test_a_worker_that_dies_mid_queue_loses_nothing(
    client: AsyncClient, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url)
    await open_triggers(client, 6)
    receiver.gate = asyncio.Event()  # hold the responses: the worker is mid-delivery
    # a long HTTP timeout: on a loaded machine the held requests must not time out first
    slow = worker_settings(webhook_batch_size=2, webhook_timeout_s=60.0)
    doomed = trigger_worker(slow, name="doomed")
    task = asyncio.create_task(doomed.run_once())
    await receiver.wait_for(2)
    task.cancel()  # the process dies with two messages claimed and unanswered
    with contextlib.suppress(asyncio.CancelledError):
        await task
    in_flight = {r.message_id for r in receiver.requests}  # sent, never acknowledged
    receiver.gate.set()
    assert await statuses() == Counter(pending=6)
    restarted = trigger_worker(slow, name="new")
    after_lease = utcnow() + timedelta(hours=1)  # past the 30 s lease (and any backoff)
    for _ in range(10):
        if not await restarted.run_once(after_lease):
            break
    assert await statuses() == Counter(delivered=6)
    seen = Counter(r.message_id for r in receiver.requests)
    assert len(seen) == 6  # every message arrived
    # at least once: what the dead worker had in flight arrives twice, the rest exactly once
    assert len(in_flight) >= 2
    assert {m for m, n in seen.items() if n == 2} == in_flight
    assert set(seen.values()) <= {1, 2}


async def test_concurrent_workers_never_send_a_message_twice(
    client: AsyncClient, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url)
    await open_triggers(client, 12)
    workers = [
        trigger_worker(worker_settings(webhook_batch_size=2), name=f"w{i}") for i in range(3)
    ]

    async def drain(worker: Worker) -> None:
        for _ in range(20):
            if not await worker.run_once():
                return

    await asyncio.wait_for(asyncio.gather(*(drain(w) for w in workers)), 60)
    seen = Counter(r.message_id for r in receiver.requests)
    assert len(seen) == 12 and set(seen.values()) == {1}
    assert await statuses() == Counter(delivered=12)


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    s = worker_settings(webhook_backoff_base_s=10.0, webhook_backoff_max_s=100.0)
    for attempt, nominal in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        for _ in range(50):
            assert nominal * 0.75 <= backoff_s(attempt, s) <= nominal * 1.25


async def test_day_14_passes_and_the_service_alone_opens_and_delivers_one_trigger(
    client: AsyncClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Done means: no request after the data is in; the in-service scheduler does it all."""
    await subscribe(client, receiver.url)
    # a vertebroplasty 30 days ago, baseline 7, and day 10 still 7: no improvement
    t0 = utcnow() - timedelta(days=30)
    await procedure_with_pain(client, [(-3, 7), (10, 7)], t0=t0)
    settings = get_settings()
    for name, value in {
        "triggers_scheduler_enabled": True,
        "triggers_sweep_interval_s": 0.05,
        "notifications_worker_enabled": True,
        "notifications_poll_interval_s": 0.05,
    }.items():
        monkeypatch.setattr(settings, name, value)
    app = create_app()
    async with app.router.lifespan_context(app):
        await receiver.wait_for(1)
        sweeper = app.state.background.runners["trigger-sweep"]
        assert isinstance(sweeper, Sweeper)
        sweeps = sweeper.sweeps

        async def more_sweeps() -> None:
            while sweeper.sweeps < sweeps + 5:  # noqa: ASYNC110 (polls the sweeper's count)
                await asyncio.sleep(0.02)

        await asyncio.wait_for(more_sweeps(), 20)
    async with get_sessionmaker()() as session:
        found = (await session.scalars(select(ImagingTrigger))).all()
    assert [(t.rule, t.status) for t in found] == [("no_improvement", "open")]
    assert len(receiver.requests) == 1
    assert receiver.requests[0].json()["data"]["trigger"]["id"] == str(found[0].id)
    assert await statuses() == Counter(delivered=1)


async def test_a_url_longer_than_its_column_is_refused_by_name(client: AsyncClient) -> None:
    body = {"url": "https://ris.example.org/" + "a" * 2000, "events": ["imaging_trigger.opened"]}
    response = await client.post("/api/v1/subscriptions", json=body)
    assert response.status_code == 422, response.text  # was a 500 on PostgreSQL
    assert [e["field"] for e in response.json()["errors"]] == ["url"]
