"""Imaging-trigger evaluation after a write's commit, from durable marks.

A write that changes a patient's history (a pain score, a procedure, a level, a death, a
retraction; through the REST API or ingestion) does not evaluate the patient's triggers in its
own transaction: concurrent batches for the same patients then queued on each other's trigger
rows until commit, and each planned from a snapshot that could not see the others'
uncommitted scores. Instead:

1. the writing transaction leaves a mark per patient (`mark`) and asks for the evaluation
   after its commit (`evaluate_after_commit`, through `app.db.after_commit`);
2. after the commit, before the response, `Settler.settle` evaluates them. Requests of one
   process that finish meanwhile share one evaluation (one round at a time; a round takes
   every patient queued, up to `ROUND_PATIENTS`), which locks the patients' rows (evaluations
   of a patient take turns, across processes too), plans from committed data only and deletes
   the marks it covered, in its own transaction;
3. a mark older than `recover`'s grace period was lost with its process (a crash between the
   two commits) or its evaluation failed: the periodic sweep evaluates it (`recover`).
"""

import asyncio
import logging
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.db import after_commit, registered_after_commit
from app.models import Patient, TriggerEvaluationMark
from app.models.base import new_id, utcnow
from app.triggers.service import Plan, apply_plans, evaluate_patients, plan_evaluations

log = logging.getLogger(__name__)

ROUND_PATIENTS = 2000  # keeps a round's IN lists far below the drivers' parameter limits
ATTEMPTS = 5
RECOVER_BATCH = 1000
_marks = cast(Table, TriggerEvaluationMark.__table__)
_INSERT = _marks.insert()


async def _mark(session: AsyncSession, patients: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """A mark per patient, in the session's transaction; returns the marks' ids."""
    now = utcnow()
    ids = [new_id() for _ in patients]
    pairs = zip(ids, patients, strict=True)
    rows = [{"id": m, "patient_id": p, "created_at": now} for m, p in pairs]
    await session.execute(_INSERT, rows)
    return ids


@dataclass(eq=False)
class _Settle:
    """A transaction's evaluation after its commit: every mark it leaves joins this one."""

    settler: "Settler"
    patients: set[uuid.UUID] = field(default_factory=set)
    marks: list[uuid.UUID] = field(default_factory=list)

    async def __call__(self) -> None:
        await self.settler.settle(sorted(self.patients), self.marks)


async def evaluate_after_commit(session: AsyncSession, patient_ids: Iterable[uuid.UUID]) -> None:
    """Mark these patients in the session's transaction and evaluate them once it has
    committed through `app.db.commit` (as every request's session does); a transaction that
    changes several histories (the seed's cases) is evaluated once."""
    patients = sorted(set(patient_ids))
    if not patients:
        return
    marks = await _mark(session, patients)
    pending = next((w for w in registered_after_commit(session) if isinstance(w, _Settle)), None)
    if pending is None:
        pending = _Settle(settler(cast(AsyncEngine, session.bind)))
        after_commit(session, pending)
    pending.patients.update(patients)
    pending.marks.extend(marks)


async def evaluate_marked(
    session: AsyncSession, patient_ids: Iterable[uuid.UUID], mark_ids: Sequence[uuid.UUID]
) -> None:
    """Evaluate these patients' triggers and delete the marks, in one transaction (committed
    here)."""
    patients = sorted(set(patient_ids))
    now = utcnow()
    # FOR NO KEY UPDATE: evaluations of one patient take turns, so none plans from a history
    # that another has moved past; inserts that reference the patient (KEY SHARE) pass
    await session.execute(
        select(Patient.id)
        .where(Patient.id.in_(patients))
        .order_by(Patient.id)
        .with_for_update(key_share=True)
    )
    plans = [p for p in await plan_evaluations(session, patients, now) if p.changes]
    if plans:
        await _apply(session, plans, now)
    for start in range(0, len(mark_ids), ROUND_PATIENTS):
        chunk = mark_ids[start : start + ROUND_PATIENTS]
        await session.execute(delete(TriggerEvaluationMark).where(_marks.c.id.in_(chunk)))
    await session.commit()


async def _apply(session: AsyncSession, plans: Sequence[Plan], now: datetime) -> None:
    """All plans at once; if a writer that does not take the patient lock (a clinician's
    transition of a trigger, the sweep) committed one of them first, each patient again."""
    try:
        async with session.begin_nested():
            await apply_plans(session, plans, now)
        return
    except (StaleDataError, IntegrityError):
        pass
    for plan in plans:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with session.begin_nested():
                    await evaluate_patients(session, [plan.patient_id], now)
                break
            except (StaleDataError, IntegrityError):
                if attempt == ATTEMPTS:
                    raise


@dataclass(eq=False)
class _Request:
    patients: Sequence[uuid.UUID]
    marks: Sequence[uuid.UUID]
    done: bool = False


@dataclass
class Settler:
    """One per event loop (process): evaluates marked patients a round at a time."""

    sessionmaker: async_sessionmaker[AsyncSession]
    _queue: list[_Request] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def settle(self, patients: Sequence[uuid.UUID], marks: Sequence[uuid.UUID]) -> None:
        """Returns once a round that started after the caller's commit has evaluated these
        patients (or failed: the marks then stay for `recover`)."""
        request = _Request(patients, marks)
        self._queue.append(request)
        while not request.done:
            async with self._lock:
                if request.done:
                    break
                await self._round()

    async def _round(self) -> None:
        taken: list[_Request] = []
        patients: set[uuid.UUID] = set()
        while self._queue and (not taken or len(patients) < ROUND_PATIENTS):
            request = self._queue.pop(0)
            taken.append(request)
            patients.update(request.patients)
        try:
            async with self.sessionmaker() as session:
                await evaluate_marked(session, patients, [m for r in taken for m in r.marks])
        except Exception:
            log.warning(
                "imaging-trigger evaluation of %d patient(s) failed; their marks stay for the "
                "sweep",
                len(patients),
                exc_info=True,
            )
        finally:  # also when cancelled: the others must not wait forever
            for request in taken:
                request.done = True


_per_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[AsyncEngine, Settler]]" = (
    weakref.WeakKeyDictionary()
)


def settler(engine: AsyncEngine) -> Settler:
    """The event loop's settler for this database."""
    settlers = _per_loop.setdefault(asyncio.get_running_loop(), {})
    found = settlers.get(engine)
    if found is None:
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        found = settlers[engine] = Settler(sessionmaker)
    return found


async def recover(
    sessionmaker: async_sessionmaker[AsyncSession], grace: timedelta = timedelta(minutes=1)
) -> int:
    """Evaluate the patients of marks older than `grace` (their evaluation was lost); returns
    how many marks were settled."""
    cutoff = utcnow() - grace
    settled = 0
    while True:
        async with sessionmaker() as session:
            rows = (
                await session.execute(
                    select(_marks.c.id, _marks.c.patient_id)
                    .where(_marks.c.created_at <= cutoff)
                    .order_by(_marks.c.created_at)
                    .limit(RECOVER_BATCH)
                )
            ).all()
            if not rows:
                return settled
            await evaluate_marked(session, {p for _, p in rows}, [m for m, _ in rows])
        settled += len(rows)
        if len(rows) < RECOVER_BATCH:
            return settled
