"""The delivery worker: claims due outbox messages, POSTs them signed, records every attempt.

Claiming is one UPDATE that takes a lease (`locked_until`) on a batch of pending messages:
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers take disjoint batches; SQLite
serialises writers, and the UPDATE re-checks the lease, so two workers never claim the same
message while its lease runs. The HTTP request is sent outside any transaction. A worker that
dies mid-batch leaves leases that run out, and another worker sends those messages again:
at-least-once, with the stable message id for receivers to deduplicate on.

Each attempt checks the destination again (`destinations.check`: the addresses the host
resolves to now), connects to the address it checked and follows no redirect. The log keeps
the status code, the timing and the class of a failure, never the receiver's answer.

Failures are retried with exponential backoff and jitter; after `webhook_max_attempts` attempts
the message is dead (it stays in the delivery log, and can be redelivered).

What a message says about its trigger is the triggers area's to tell: whoever starts a worker
hands it that area's `payload` (app.triggers.webhooks), so this package never imports it.
"""

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.common.sql import dialect_of, typed
from app.config import Settings, get_settings
from app.models import DeliveryAttempt, OutboxMessage, WebhookSubscription
from app.models.base import new_id, utcnow
from app.notifications import destinations, failures, heartbeat, signing
from app.notifications.failures import Failure
from app.observability import metrics

log = logging.getLogger(__name__)

TriggerPayload = Callable[[AsyncSession, uuid.UUID], Awaitable[dict[str, Any] | None]]
"""A trigger as a message shows it, JSON-ready (None: it is gone)."""


def backoff_s(attempt: int, settings: Settings, rnd: random.Random | None = None) -> float:
    """base * 2^(attempt - 1), capped, times 1 +/- jitter."""
    delay = min(
        settings.webhook_backoff_max_s,
        settings.webhook_backoff_base_s * float(2 ** max(0, attempt - 1)),
    )
    jitter = settings.webhook_backoff_jitter
    spread: float = (rnd or random).uniform(-jitter, jitter)
    return max(0.0, delay * (1.0 + spread))


async def render(session: AsyncSession, message: OutboxMessage, payload: TriggerPayload) -> str:
    """The body: fixed at the first attempt, so every retry sends (and signs) the same bytes."""
    data = await payload(session, message.trigger_id)
    body = {
        "id": str(message.id),
        "type": message.event_type,
        "created_at": message.created_at.isoformat(),
        "data": {"status": message.trigger_status, "trigger": data},
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings | None = None,
        name: str | None = None,
        client: httpx.AsyncClient | None = None,
        *,
        payload: TriggerPayload,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.payload = payload
        self.settings = settings or get_settings()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._client = client

    async def claim(self, now: datetime) -> list[uuid.UUID]:
        async with self.sessionmaker() as session, session.begin():
            d = dialect_of(session)
            lock = "FOR UPDATE OF m SKIP LOCKED" if d.postgres else ""
            stmt = typed(
                f"""
                UPDATE outbox_messages
                SET locked_until = :lease_end, locked_by = :worker, attempts = attempts + 1
                WHERE id IN (
                    SELECT m.id FROM outbox_messages m
                    JOIN webhook_subscriptions s ON s.id = m.subscription_id
                    WHERE m.status = 'pending' AND m.next_attempt_at <= :now AND s.active
                      AND (m.locked_until IS NULL OR m.locked_until < :now)
                    ORDER BY m.next_attempt_at, m.id
                    LIMIT :n
                    {lock}
                )
                AND status = 'pending' AND (locked_until IS NULL OR locked_until < :now)
                RETURNING id
                """,
                uuids=(),
                times=("now", "lease_end"),
            )
            rows = await session.execute(
                stmt,
                {
                    "now": now,
                    "lease_end": now + timedelta(seconds=self.settings.webhook_lease_s),
                    "worker": self.name,
                    "n": self.settings.webhook_batch_size,
                },
            )
            return [r[0] if isinstance(r[0], uuid.UUID) else uuid.UUID(str(r[0])) for r in rows]

    async def _prepare(self, message_id: uuid.UUID) -> tuple[OutboxMessage, str, str] | None:
        async with self.sessionmaker() as session, session.begin():
            message = await session.get(OutboxMessage, message_id)
            if message is None:
                return None
            subscription = await session.get(WebhookSubscription, message.subscription_id)
            if subscription is None:
                return None
            if message.payload is None:
                message.payload = await render(session, message, self.payload)
            return message, subscription.url, subscription.secret

    async def deliver(self, message_id: uuid.UUID, now: datetime, client: httpx.AsyncClient) -> str:
        prepared = await self._prepare(message_id)
        if prepared is None:
            return "missing"
        message, url, secret = prepared
        body = (message.payload or "").encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "vertebro-registry-webhooks/1",
            signing.MESSAGE_ID_HEADER: str(message.id),
            signing.EVENT_HEADER: message.event_type,
            signing.ATTEMPT_HEADER: str(message.attempts),
            signing.SIGNATURE_HEADER: signing.signature_header(secret, body),
        }
        started_at, started = utcnow(), time.perf_counter()
        status_code: int | None = None
        error: Failure | None = None
        try:
            to = await destinations.check(url, destinations.Policy.of(self.settings))
            async with client.stream(
                "POST",
                to.connect_url,
                content=body,
                headers={**headers, **to.headers},
                extensions=to.extensions,
                follow_redirects=False,
            ) as response:  # the body is not read: only its status is kept
                status_code = response.status_code
            error = failures.of_status(status_code)
        except destinations.Refused as exc:
            error = exc.failure
        except httpx.HTTPError as exc:
            error = failures.of_exception(type(exc))
        duration_ms = (time.perf_counter() - started) * 1000
        return await self._record(message_id, now, started_at, duration_ms, status_code, error)

    async def _record(
        self,
        message_id: uuid.UUID,
        now: datetime,
        started_at: datetime,
        duration_ms: float,
        status_code: int | None,
        error: Failure | None,
    ) -> str:
        async with self.sessionmaker() as session, session.begin():
            message = await session.get(OutboxMessage, message_id)
            if message is None:
                return "missing"
            if error is None:
                outcome = "delivered"
                if message.status == "pending":
                    message.status = "delivered"
                    message.delivered_at = utcnow()
            elif message.attempts >= self.settings.webhook_max_attempts:
                outcome = "dead"
                if message.status == "pending":
                    message.status = "dead"
            else:
                outcome = "retry"
                message.next_attempt_at = now + timedelta(
                    seconds=backoff_s(message.attempts, self.settings)
                )
            metrics.webhook_attempt(outcome, error)  # failures by kind (app.observability)
            message.last_status_code = status_code
            message.last_error = None if error is None else error.value
            if message.locked_by == self.name:
                message.locked_until = None
                message.locked_by = None
            session.add(
                DeliveryAttempt(
                    id=new_id(),
                    message_id=message_id,
                    number=message.attempts,
                    worker=self.name,
                    started_at=started_at,
                    duration_ms=round(duration_ms, 2),
                    status_code=status_code,
                    error=None if error is None else error.value,
                    outcome=outcome,
                )
            )
            return outcome

    @contextlib.asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._client is not None:
            yield self._client
            return
        async with httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_s,
            follow_redirects=False,
            # requests go to an address with the name in Host and TLS: a pooled connection
            # could carry another name's request to a server whose certificate did not name it
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as client:
            yield client

    async def _batch(self, client: httpx.AsyncClient, now: datetime | None) -> int:
        now = now or utcnow()
        claimed = await self.claim(now)
        await asyncio.gather(*(self.deliver(m, now, client) for m in claimed))
        return len(claimed)

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim one batch and deliver it; returns how many messages were attempted."""
        async with self._http() as client:
            return await self._batch(client, now)

    def _beat(self) -> None:
        if self.settings.worker_heartbeat_file is not None:
            heartbeat.beat(self.settings.worker_heartbeat_file)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set: drain what is due, then poll."""
        async with self._http() as client:
            while not stop.is_set():
                try:
                    done = await self._batch(client, None)
                    self._beat()
                except Exception:  # keep the worker alive; the next poll retries
                    log.exception("webhook delivery batch failed")
                    done = 0
                if done:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.notifications_poll_interval_s)
