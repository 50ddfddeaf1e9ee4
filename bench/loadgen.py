"""The mixed load engine, shared by `bench/load.py` (`make bench-load`) and
tests/reliability/test_load.py.

Concurrent clients on loopback mix the registry's main traffic against one running server:
events posted one at a time and in batches (pain scores, which re-evaluate the imaging
triggers, and medications), some of them posted twice at once, as an integration engine
retrying a request it thinks was lost would; whole cases read for random patients; the
outcome statistics read. Every event is tracked: which ones were acknowledged (2xx), and how
many answers said `created` for each, so that the event log and the follow-up table can be
counted against them afterwards. The server's processes (the uvicorn master and its workers)
are sampled for resident memory while it runs.
"""

import asyncio
import contextlib
import json
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import EventLog, PatientIdentifier
from tests.factories.synthetic import chunks, insert_registry

SOURCE = "urn:load:ehr"
MRN = "urn:load:mrn"
EVENTS = "/api/v1/events"
CASE = "/api/v1/cases/{id}"
STATS = "/api/v1/stats/outcomes"
BATCH = 20
START = datetime(2025, 1, 6, tzinfo=UTC)
# (action, weight): what a client does next
MIX = (("single", 30), ("single twice", 8), ("batch", 10), ("batch twice", 3), ("case", 39),
       ("stats", 10))  # fmt: skip
# the endpoint each action is timed under
ENDPOINT = {
    "single": "POST /events (1 event)",
    "single twice": "POST /events (1 event)",
    "batch": f"POST /events (batch of {BATCH})",
    "batch twice": f"POST /events (batch of {BATCH})",
    "case": "GET /cases/{id}",
    "stats": "GET /stats/outcomes",
}


@dataclass
class Population:
    ids: list[uuid.UUID]  # the i-th patient's MRN is `MRN-<i>`
    living: list[int]  # the indices of those without a death date (events name only them)


async def populate(url: str, patients: int, seed: int = 7) -> Population:
    """The synthetic registry (tests/factories/synthetic.py) plus an MRN per patient, so that
    events can name the patients by identifier."""
    engine = create_async_engine(url)
    population = Population([], [])
    try:
        for block in chunks(patients, seed=seed):
            first = len(population.ids)
            async with engine.begin() as conn:
                await insert_registry(conn, block)
                rows = [
                    {"id": uuid.uuid4(), "patient_id": p["id"], "system": MRN,
                     "value": f"MRN-{first + i}"}
                    for i, p in enumerate(block.patients)
                ]  # fmt: skip
                await conn.execute(insert(PatientIdentifier), rows)
            population.ids += [p["id"] for p in block.patients]
            population.living += [
                first + i for i, p in enumerate(block.patients) if p["death_date"] is None
            ]
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return population


@dataclass
class Tally:
    """One endpoint's answers in one phase."""

    requests: int = 0
    errors: int = 0
    replays: int = 0  # answers `replayed`: the duplicate of an event already stored
    events: int = 0  # events answered `created`
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str = ""

    def error(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what[:300]


@dataclass
class Ledger:
    """Every event the clients sent, across phases: what the server said about each."""

    acknowledged: set[str] = field(default_factory=set)  # event ids answered with a 2xx
    created: Counter[str] = field(default_factory=Counter)  # answers `created`, per event id
    uncertain: set[str] = field(default_factory=set)  # no answer (timeout, connection lost)


@dataclass
class Phase:
    seconds: float = 0.0
    tallies: dict[str, Tally] = field(default_factory=dict)

    def tally(self, endpoint: str) -> Tally:
        return self.tallies.setdefault(endpoint, Tally())


class Load:
    """Clients against `base` with one credential holding events:write, cases:read and
    stats:read, on the registry `populate` made."""

    def __init__(self, base: str, key: str, patients: Population, clients: int) -> None:
        self.base, self.patients, self.clients = base, patients, clients
        self.headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
        self.ledger = Ledger()

    async def run(self, seconds: float, tag: str) -> Phase:
        """`clients` concurrent clients for `seconds`; each finishes its last action."""
        phase = Phase()
        # a client drops an idle connection before the server does (uvicorn: 5 s), or a request
        # sent as the server closes it fails (a ReadError seen once in a 3-minute run)
        limits = httpx.Limits(max_connections=2 * self.clients, keepalive_expiry=2.0)
        async with httpx.AsyncClient(
            base_url=self.base, headers=self.headers, timeout=60, limits=limits
        ) as client:
            began = time.perf_counter()
            stop = began + seconds
            await asyncio.gather(
                *(self._client(client, phase, f"{tag}-{c}", stop) for c in range(self.clients))
            )
            phase.seconds = time.perf_counter() - began
        return phase

    async def _client(self, client: httpx.AsyncClient, phase: Phase, tag: str, stop: float) -> None:
        rng = random.Random(tag)
        actions, weights = zip(*MIX, strict=True)
        n = 0
        while time.perf_counter() < stop:
            action = rng.choices(actions, weights)[0]
            tally = phase.tally(ENDPOINT[action])
            if action == "case":
                patient = rng.choice(self.patients.ids)
                await self._get(client, tally, CASE.format(id=patient))
            elif action == "stats":
                await self._get(client, tally, STATS)
            else:
                size = BATCH if action.startswith("batch") else 1
                events = [self._event(f"{tag}-{n + i}", rng) for i in range(size)]
                n += size
                body = json.dumps(events[0] if size == 1 else {"events": events}).encode()
                copies = 2 if action.endswith("twice") else 1
                await asyncio.gather(
                    *(self._post(client, tally, body, events) for _ in range(copies))
                )

    def _event(self, event_id: str, rng: random.Random) -> dict[str, Any]:
        i = rng.choice(self.patients.living)  # no event after a death
        if rng.random() < 0.5:
            type_, data = "pain.scored", {"scale": "nrs11", "value": rng.randrange(11)}
        else:
            type_ = "medication.recorded"
            data = {"drug": "morphine", "dose": rng.choice((5, 10, 15)), "dose_unit": "mg",
                    "route": "oral", "doses_per_day": rng.choice((2, 3, 4))}  # fmt: skip
        at = START + timedelta(minutes=rng.randrange(500_000))
        return {
            "source": SOURCE,
            "event_id": event_id,
            "type": type_,
            "occurred_at": at.isoformat(),
            "patient": {"system": MRN, "value": f"MRN-{i}"},
            "data": data,
        }

    async def _get(self, client: httpx.AsyncClient, tally: Tally, path: str) -> None:
        response = await self._send(client, tally, "GET", path)
        if response is not None and response.status_code != 200:
            tally.error(f"GET {response.status_code} {response.text}")

    async def _post(
        self, client: httpx.AsyncClient, tally: Tally, body: bytes, events: list[dict[str, Any]]
    ) -> None:
        response = await self._send(client, tally, "POST", EVENTS, body)
        ids = [str(e["event_id"]) for e in events]
        if response is None:
            self.ledger.uncertain.update(ids)
            return
        if response.status_code not in (200, 201):
            tally.error(f"POST {response.status_code} {response.text}")
            return
        answer = response.json()
        results = answer.get("results", [answer])
        for event_id, result in zip(ids, results, strict=True):
            status = result["status"]
            if status == "created":
                tally.events += 1
                self.ledger.created[event_id] += 1
            elif status == "replayed":
                tally.replays += 1
            else:
                tally.error(f"event {status}: {result.get('problem')}")
                continue
            self.ledger.acknowledged.add(event_id)

    async def _send(
        self, client: httpx.AsyncClient, tally: Tally, method: str, path: str, body: bytes = b""
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, path, content=body or None)
        except httpx.HTTPError as exc:
            tally.requests += 1
            tally.error(f"{method} {type(exc).__name__}: {exc}")
            return None
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        tally.requests += 1
        return response


def merge(phases: list[Phase]) -> Phase:
    whole = Phase(seconds=sum(p.seconds for p in phases))
    for phase in phases:
        for endpoint, t in phase.tallies.items():
            into = whole.tally(endpoint)
            into.requests += t.requests
            into.errors += t.errors
            into.replays += t.replays
            into.events += t.events
            into.latencies_ms += t.latencies_ms
            into.first_error = into.first_error or t.first_error
    return whole


# --- counting afterwards -------------------------------------------------------------------


@dataclass
class Counts:
    acknowledged: int  # distinct events answered 2xx
    logged: int  # event log rows of the load's source
    logged_distinct: int
    unacknowledged_logged: int  # in the log but never acknowledged (only after a lost answer)
    missing: int  # acknowledged but not in the log
    created_twice: int  # events answered `created` more than once
    follow_ups_added: int

    @property
    def exact(self) -> bool:
        return (
            self.logged == self.logged_distinct == self.acknowledged == self.follow_ups_added
            and self.missing == self.unacknowledged_logged == self.created_twice == 0
        )


async def follow_up_count(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT count(*) FROM follow_up_events")) or 0)
    finally:
        await engine.dispose()


async def count(url: str, ledger: Ledger, follow_ups_before: int) -> Counts:
    """The event log and the follow-up table against what the clients were told."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            logged_ids = list(
                (await conn.execute(select(EventLog.event_id).where(EventLog.source == SOURCE)))
                .scalars()
                .all()
            )
            follow_ups = await conn.scalar(text("SELECT count(*) FROM follow_up_events"))
    finally:
        await engine.dispose()
    logged = set(logged_ids)
    return Counts(
        acknowledged=len(ledger.acknowledged),
        logged=len(logged_ids),
        logged_distinct=len(logged),
        unacknowledged_logged=len(logged - ledger.acknowledged),
        missing=len(ledger.acknowledged - logged),
        created_twice=sum(1 for n in ledger.created.values() if n > 1),
        follow_ups_added=int(follow_ups or 0) - follow_ups_before,
    )


# --- memory --------------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (uvicorn's master and its worker processes)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += parents.get(pid, [])
    return tree


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (shows how evenly the workers were used)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Memory:
    """Resident memory of a process tree, sampled every `every_s` seconds."""

    root: int
    every_s: float = 2.0
    samples: list[dict[int, int]] = field(default_factory=list)  # pid -> KiB
    start: int = 0  # the first sample after the warm-up

    def mark_start(self) -> None:
        self.sample()
        self.start = len(self.samples) - 1

    def sample(self) -> dict[int, int]:
        sizes = {pid: kib for pid in process_tree(self.root) if (kib := rss_kib(pid)) is not None}
        self.samples.append(sizes)
        return sizes

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)

    def totals_mib(self) -> list[float]:
        """The tree's total from the warm-up's end on."""
        return [sum(sizes.values()) / 1024 for sizes in self.samples[self.start :]]

    def pids(self) -> set[frozenset[int]]:
        """The distinct sets of processes seen: one unless a worker died or was replaced."""
        return {frozenset(sizes) for sizes in self.samples[self.start :]}

    def summary(self) -> str:
        totals = self.totals_mib()
        per = self.samples[-1] if self.samples else {}
        cpu = [c for pid in sorted(per, key=per.__getitem__) if (c := cpu_seconds(pid)) is not None]
        return (
            f"server RSS (all {len(per)} processes) {totals[0]:.0f} MiB after warm-up, "
            f"{totals[len(totals) // 2]:.0f} half-way, {totals[-1]:.0f} at the end, "
            f"max {max(totals):.0f} MiB "
            f"({len(totals)} samples every {self.every_s:g} s); per process at the end: "
            + ", ".join(f"{kib / 1024:.0f}" for kib in sorted(per.values()))
            + " MiB; CPU time so far: "
            + ", ".join(f"{c:.0f}" for c in cpu)
            + " s"
        )


def load_average() -> float:
    return os.getloadavg()[0]
