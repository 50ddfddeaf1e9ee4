"""Scale-out: three API processes, two delivery workers and the sweep running in several places
at once, all on one database. Nothing is duplicated and nothing is skipped.

Only on PostgreSQL (TEST_DATABASE_URL). The test runs a cluster of its own (as
test_database_faults.py does) so the eight processes' connections do not compete with the rest
of the suite for the shared server's. Every API process runs the in-service sweep every 0.5 s
and three `vertebro triggers sweep` processes run beside them; the API processes' own webhook
workers are off, so delivery is the two `vertebro worker` processes' alone.

The events arrive in three phases, each acknowledged before the next starts, so that what the
sweep may see is fixed: first the pain scores, then the procedures (whose day 14 is already
past: from then on the sweep, and only the sweep, can open their day-14 triggers), then the
worsening scores (rule B fires while the request is answered). Each event is posted to two or
three API processes at the same moment.
"""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.models import (
    Day14Check,
    DeliveryAttempt,
    EventLog,
    FollowUpEvent,
    ImagingTrigger,
    LevelTreated,
    OutboxMessage,
    Patient,
    PatientIdentifier,
    Procedure,
)
from app.notifications import signing
from tests.notifications.receiver import Receiver
from tests.notifications.test_delivery import SECRET, subscribe
from tests.reliability.procs import (
    on_postgres,
    prepare_database,
    stop_process,
    throwaway_cluster,
    uvicorn_server,
    vertebro,
)

pytestmark = pytest.mark.skipif(not on_postgres(), reason="needs PostgreSQL (TEST_DATABASE_URL)")

API_PROCESSES = 3
WORKERS = 2
CLI_SWEEPS = 3
PER_GROUP = 6  # patients per group
SETTLE_S = 2.0
CLIENTS = 6  # events in flight at once (each posted to 2 or 3 API processes)
SOURCE, MRN = "urn:test:ehr", "urn:test:mrn"
# small pools: eight processes share the cluster's connections
COMMON_ENV = {"DB_POOL_SIZE": "3", "DB_MAX_OVERFLOW": "4"}
API_ENV = {
    **COMMON_ENV,
    "TRIGGERS_SCHEDULER_ENABLED": "true",
    "TRIGGERS_SWEEP_INTERVAL_S": "0.5",
}
WORKER_ENV = {**COMMON_ENV, "NOTIFICATIONS_POLL_INTERVAL_S": "0.2", "WEBHOOK_BATCH_SIZE": "2"}

# group -> (the day-14 decision, the trigger rule expected, follow-ups per patient)
GROUPS: dict[str, tuple[str, str, int]] = {
    "overdue": ("follow_up_overdue", "follow_up_overdue", 1),  # baseline, nothing after
    "flat": ("no_improvement", "no_improvement", 2),  # baseline 8, day 10: 7
    "worse": ("improved", "worsening", 3),  # baseline 8, day 10: 3, day 20: 7
}


def _at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Scenario:
    """The events of every patient, in the phases they are posted in."""

    now: datetime
    phases: list[list[dict[str, Any]]] = field(default_factory=lambda: [[], [], []])

    def __post_init__(self) -> None:
        for group in GROUPS:
            for n in range(PER_GROUP):
                self._patient(group, f"{group}-{n}")

    def _event(self, mrn: str, suffix: str, type_: str, at: datetime, data: dict[str, Any]) -> Any:
        return {
            "source": SOURCE,
            "event_id": f"{mrn}-{suffix}",
            "type": type_,
            "occurred_at": _at(at),
            "patient": {"system": MRN, "value": mrn},
            "data": data,
        }

    def _pain(self, mrn: str, suffix: str, at: datetime, value: int) -> Any:
        return self._event(mrn, suffix, "pain.scored", at, {"scale": "nrs11", "value": value})

    def _patient(self, group: str, mrn: str) -> None:
        t0 = self.now - timedelta(days=40 if group == "worse" else 20)  # day 14 has passed
        scores, procedure, late = self.phases
        scores.append(self._pain(mrn, "base", t0 - timedelta(days=2), 8))
        if group != "overdue":
            scores.append(
                self._pain(mrn, "d10", t0 + timedelta(days=10), 3 if group == "worse" else 7)
            )
        data = {"procedure_ref": f"OR-{mrn}", "kind": "vertebroplasty", "levels": [{"level": "L1"}]}
        procedure.append(self._event(mrn, "proc", "procedure.performed", t0, data))
        if group == "worse":
            late.append(self._pain(mrn, "d20", t0 + timedelta(days=20), 7))

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for phase in self.phases for e in phase]


@dataclass
class Tally:
    answers: dict[str, list[int]] = field(default_factory=dict)  # event id -> final statuses
    unexpected: list[tuple[int, str]] = field(default_factory=list)
    retried: int = 0


async def _post(client: httpx.AsyncClient, event: dict[str, Any], tally: Tally) -> None:
    """One copy of an event to one API process; retried (same event) on 503 or a lost answer."""
    for _ in range(100):
        try:
            response = await client.post("/api/v1/events", json=event)
        except httpx.TransportError:
            tally.retried += 1
            await asyncio.sleep(0.2)
            continue
        if response.status_code == 503:  # busy or unavailable: nothing was stored
            tally.retried += 1
            await asyncio.sleep(0.2)
            continue
        if response.status_code not in (200, 201):
            tally.unexpected.append((response.status_code, response.text[:300]))
        tally.answers.setdefault(event["event_id"], []).append(response.status_code)
        return
    raise AssertionError(f"{event['event_id']} was never answered")


async def _post_phase(
    clients: list[httpx.AsyncClient], events: list[dict[str, Any]], tally: Tally
) -> None:
    """Round-robin over the API processes; each event also goes to the next process (and every
    third event to all of them) at the same moment."""
    slots = asyncio.Semaphore(CLIENTS)

    async def send(i: int, event: dict[str, Any]) -> None:
        copies = API_PROCESSES if i % 3 == 0 else 2
        targets = [clients[(i + k) % len(clients)] for k in range(copies)]
        async with slots:
            await asyncio.gather(*(_post(c, event, tally) for c in targets))

    await asyncio.gather(*(send(i, e) for i, e in enumerate(events)))


async def _count(engine: AsyncEngine, model: type, *where: ColumnElement[bool]) -> int:
    async with engine.connect() as conn:
        counted = await conn.scalar(select(func.count()).select_from(model).where(*where))
        return int(counted or 0)


async def _delivered(engine: AsyncEngine, receiver: Receiver, expected: int) -> None:
    """Until every expected message is delivered and received (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    while loop.time() < deadline:
        delivered = await _count(engine, OutboxMessage, OutboxMessage.status == "delivered")
        if delivered >= expected and len(receiver.requests) >= expected:
            return
        await asyncio.sleep(0.2)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    yield started
    await started.stop()


async def test_n_apis_m_workers_and_concurrent_sweeps_duplicate_and_skip_nothing(
    receiver: Receiver,
) -> None:
    scenario = Scenario(datetime.now(UTC))
    tally = Tally()
    with throwaway_cluster() as cluster:
        url, key = await prepare_database(cluster.url())
        engine = create_async_engine(url)
        try:
            async with contextlib.AsyncExitStack() as stack:
                servers = await asyncio.gather(
                    *(
                        stack.enter_async_context(uvicorn_server(url, env=API_ENV))
                        for _ in range(API_PROCESSES)
                    )
                )
                clients = [
                    await stack.enter_async_context(
                        httpx.AsyncClient(
                            base_url=s.base, headers={"Authorization": f"Bearer {key}"}, timeout=30
                        )
                    )
                    for s in servers
                ]
                await subscribe(clients[0], receiver.url)
                workers = [await vertebro(url, "worker", env=WORKER_ENV) for _ in range(WORKERS)]
                for worker in workers:
                    stack.push_async_callback(stop_process, worker)

                scores, procedures, late = scenario.phases
                await _post_phase(clients, scores, tally)
                await _post_phase(clients, procedures, tally)
                sweeps = [
                    await vertebro(url, "triggers", "sweep", env=COMMON_ENV)
                    for _ in range(CLI_SWEEPS)
                ]
                for sweep in sweeps:
                    stack.push_async_callback(stop_process, sweep)
                await _post_phase(clients, late, tally)
                # rule B fired while the worsening scores were answered, not in a sweep
                worsening = ImagingTrigger.rule == "worsening"
                assert await _count(engine, ImagingTrigger, worsening) == PER_GROUP

                expected_triggers = PER_GROUP * len(GROUPS)
                await _delivered(engine, receiver, expected_triggers)
                codes = [await asyncio.wait_for(s.wait(), 60) for s in sweeps]
                assert codes == [0] * CLI_SWEEPS
                # a few more sweep and poll intervals: a late duplicate would show in _check
                await asyncio.sleep(SETTLE_S)
                processes = [s.process for s in servers] + workers
                assert all(p.returncode is None for p in processes)  # all still running
                await asyncio.gather(*(stop_process(p) for p in processes))  # side by side
            await _check(engine, scenario, tally, receiver, expected_triggers)
        finally:
            await engine.dispose()


async def _check(
    engine: AsyncEngine, scenario: Scenario, tally: Tally, receiver: Receiver, expected: int
) -> None:
    events = scenario.events
    # each event stored exactly once, created by exactly one of its concurrent copies
    assert tally.unexpected == []
    assert {e["event_id"] for e in events} == set(tally.answers)
    created = {eid: codes.count(201) for eid, codes in tally.answers.items()}
    assert set(created.values()) == {1}, {eid: n for eid, n in created.items() if n != 1}
    assert sum(len(codes) for codes in tally.answers.values()) > len(events)  # copies were sent
    async with engine.connect() as conn:
        logged = (await conn.execute(select(EventLog.event_id, EventLog.status))).all()
        assert sorted(logged) == sorted((e["event_id"], "applied") for e in events)

        # clinical rows exact, per patient
        per_patient = select(PatientIdentifier.value, PatientIdentifier.patient_id)
        patients = {mrn: pid for mrn, pid in (await conn.execute(per_patient)).all()}
        group_of = {mrn: mrn.split("-")[0] for mrn in patients}
        assert sorted(patients) == sorted(f"{g}-{n}" for g in GROUPS for n in range(PER_GROUP))
        assert await conn.scalar(select(func.count()).select_from(Patient)) == len(patients)
        follow_ups = Counter(
            dict((await conn.execute(_per_patient(FollowUpEvent.patient_id))).all())
        )
        procedures = Counter(dict((await conn.execute(_per_patient(Procedure.patient_id))).all()))
        for mrn, pid in patients.items():
            assert follow_ups[pid] == GROUPS[group_of[mrn]][2], mrn
            assert procedures[pid] == 1, mrn
        assert await conn.scalar(select(func.count()).select_from(LevelTreated)) == len(patients)

        # one day-14 decision per episode, the right one
        checks = (await conn.execute(select(Day14Check.patient_id, Day14Check.outcome))).all()
        mrn_of = {pid: mrn for mrn, pid in patients.items()}
        assert sorted((mrn_of[pid], outcome) for pid, outcome in checks) == sorted(
            (mrn, GROUPS[group_of[mrn]][0]) for mrn in patients
        )

        # each expected trigger exactly once, none superseded; the overdue alerts (absent data)
        # opened by a sweep, rule B's by the writes, the no-improvements by either (the write
        # decides once the day-10 score is in, unless a sweep got there first)
        triggers = (
            await conn.execute(
                select(
                    ImagingTrigger.id,
                    ImagingTrigger.patient_id,
                    ImagingTrigger.rule,
                    ImagingTrigger.status,
                    ImagingTrigger.batch_id.in_(
                        select(Day14Check.batch_id).where(Day14Check.batch_id.is_not(None))
                    ).label("swept"),
                )
            )
        ).all()
        assert len(triggers) == expected
        assert Counter((mrn_of[t.patient_id], t.rule) for t in triggers) == Counter(
            {(mrn, GROUPS[group_of[mrn]][1]): 1 for mrn in patients}
        )
        assert {t.status for t in triggers} == {"open"}
        for t in triggers:
            if t.rule != "no_improvement":
                assert t.swept == (t.rule == "follow_up_overdue"), t

        # every message delivered once: one attempt each, each id received exactly once
        messages = (
            await conn.execute(
                select(OutboxMessage.id, OutboxMessage.trigger_id, OutboxMessage.status)
            )
        ).all()
        attempts = (await conn.execute(select(DeliveryAttempt.message_id))).scalars().all()
    assert sorted(m.trigger_id for m in messages) == sorted(t.id for t in triggers)
    assert {m.status for m in messages} == {"delivered"}
    assert Counter(attempts) == Counter({m.id: 1 for m in messages})
    received = Counter(r.message_id for r in receiver.requests)
    assert received == Counter({str(m.id): 1 for m in messages})
    for request in receiver.requests:
        assert signing.verify(SECRET, request.headers["x-vertebro-signature"], request.body)


def _per_patient(column: Any) -> Any:
    return select(column, func.count()).group_by(column)
