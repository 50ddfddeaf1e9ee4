"""Imaging-trigger evaluation after a write's commit, from durable marks; and the one place
that decides which writes need it.

**What needs it.** A patient's imaging-trigger history is what `evaluation.load_histories`
reads: the procedures with their levels, the pain scores and the date of death. Every flush of
every session is inspected (`_flushed`, a listener on the Session class, like the audit
trail's): a procedure, a level, or a pain or death follow-up event inserted, changed or
deleted, or a changed `Patient.death_date`, *notes* the patient. So no writer decides for
itself (the REST services, ingestion and the seed alike), and no new writer can forget.
Writes that bypass the ORM's flush (Core statements: ingestion's set-based follow-up rows,
retraction's deletes) call `note_rows` with the rows they wrote: the same decision
(`_history_patient`) over plain values.

A write does not evaluate the patient's triggers in its own transaction: concurrent batches
for the same patients then queued on each other's trigger rows until commit, and each planned
from a snapshot that could not see the others' uncommitted scores. Instead:

1. the writing transaction leaves a mark per noted patient, written as it commits (`_mark`,
   before the commit, after the last flush: one INSERT per transaction), and asks for the
   evaluation after its commit (through `app.db.after_commit`);
2. after the commit, before the response, `Settler.settle` evaluates them. Requests of one
   process that finish meanwhile share one evaluation (one round at a time; a round takes
   every patient queued, up to `ROUND_PATIENTS`), which locks the patients' rows (evaluations
   of a patient take turns, across processes too), plans from committed data only and deletes
   the marks it covered, in its own transaction;
3. a mark older than `recover`'s grace period was lost with its process (a crash between the
   two commits), its evaluation failed, or its transaction was committed without
   `app.db.commit`: the periodic sweep evaluates it (`recover`).

The listeners are registered when this module is imported: every process that writes clinical
data imports it (the app through its jobs, ingestion, the seed; tests/triggers/test_marks.py
checks the entry points).
"""

import asyncio
import logging
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, event, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import async_session as async_proxy
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from app.db import after_commit
from app.models import FollowUpEvent, LevelTreated, Patient, Procedure, TriggerEvaluationMark
from app.models.base import Base, new_id, utcnow
from app.triggers.evaluation import Plan, apply_plans, evaluate_patients, plan_evaluations
from app.triggers.lifecycle import close_for_death

log = logging.getLogger(__name__)

ROUND_PATIENTS = 2000  # keeps a round's IN lists far below the drivers' parameter limits
ATTEMPTS = 5
RECOVER_BATCH = 1000
HISTORY_KINDS = frozenset({"pain", "death"})  # the follow-up events of the history
_marks = cast(Table, TriggerEvaluationMark.__table__)
_INSERT = _marks.insert()
_PENDING = "vertebro.triggers.pending"


# --- what needs an evaluation ------------------------------------------------------------------


def _history_patient(model: type[Base], values: Mapping[Any, Any]) -> uuid.UUID | None:
    """The patient whose history a row of `model` with these values is part of (None: no
    part of one). Levels belong to their procedure's patient (`_level_patients`)."""
    if model is FollowUpEvent:
        return values.get("patient_id") if values.get("kind") in HISTORY_KINDS else None
    if model is Procedure:
        return values.get("patient_id")
    return None


def _before_and_after(obj: Base, names: Sequence[str]) -> list[dict[str, Any]]:
    """These attributes' values as loaded now and, when the flush changed them, before (from
    what is loaded: never a query)."""
    state = inspect(obj)
    now = {name: state.dict.get(name) for name in names}
    before = dict(now)
    for name in names:
        deleted = state.attrs[name].history.deleted
        if deleted:
            before[name] = deleted[0]
    return [now] if before == now else [now, before]


def _flushed_patients(session: Session) -> set[uuid.UUID]:
    """The patients whose history this flush changed (called after it, while `new`, `dirty`
    and `deleted` and the attributes' history still describe it)."""
    patients: set[uuid.UUID] = set()
    procedures: set[uuid.UUID] = set()  # of the levels written
    new, dirty = session.new, session.dirty  # (each a new set, built from the session)
    for obj in (*new, *dirty, *session.deleted):
        if obj in dirty and not session.is_modified(obj, include_collections=False):
            continue
        if isinstance(obj, Patient):
            if obj not in new and inspect(obj).attrs.death_date.history.has_changes():
                patients.add(obj.id)
        elif isinstance(obj, FollowUpEvent | Procedure):
            for values in _before_and_after(obj, ("patient_id", "kind")):
                if (patient := _history_patient(type(obj), values)) is not None:
                    patients.add(patient)
        elif isinstance(obj, LevelTreated):
            for values in _before_and_after(obj, ("procedure_id",)):
                if values["procedure_id"] is not None:
                    procedures.add(values["procedure_id"])
    return patients | _level_patients(session, procedures) if procedures else patients


def _level_patients(session: Session, procedure_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """The patients of these procedures: those the session holds, then one query."""
    found: set[uuid.UUID] = set()
    missing: list[uuid.UUID] = []
    for procedure_id in procedure_ids:
        held = session.identity_map.get(identity_key(Procedure, procedure_id))
        patient = inspect(held).dict.get("patient_id") if held is not None else None
        if patient is not None:
            found.add(patient)
        else:
            missing.append(procedure_id)
    if missing:
        rows = session.connection().execute(
            select(Procedure.patient_id).where(Procedure.id.in_(missing))
        )
        found.update(patient for (patient,) in rows)
    return found


def note_rows(session: AsyncSession, model: type[Base], rows: Iterable[Mapping[Any, Any]]) -> None:
    """Rows of `model` inserted, updated or deleted with a Core statement (which the flush
    listener does not see), with at least `patient_id` (and `kind` for follow-up events):
    their patients are marked as the ORM's writes are."""
    found = (_history_patient(model, row) for row in rows)
    note(session.sync_session, {p for p in found if p is not None})


def note(session: Session, patients: Iterable[uuid.UUID]) -> None:
    """These patients' history changed in the session's transaction: mark them when it
    commits, and evaluate them after it has committed through `app.db.commit` (as every
    request's session does); a transaction that changes several histories (a batch, the
    seed's cases) is evaluated once."""
    patients = set(patients)
    if not patients:
        return
    pending: _Settle | None = session.info.get(_PENDING)
    if pending is None:
        proxy = async_proxy(session)
        pending = session.info[_PENDING] = _Settle(
            cast(AsyncEngine, proxy.bind) if proxy is not None else None
        )
        if proxy is not None:
            after_commit(proxy, pending)
    pending.patients.update(patients)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _flush_context: object) -> None:
    note(session, _flushed_patients(session))


@event.listens_for(Session, "before_commit")
def _mark(session: Session) -> None:
    """The marks of the transaction's noted patients, written in it: after its last flush
    (which may note more), once, when the transaction itself commits (not when a savepoint
    is released: rolled back afterwards, it would take them along; `Session.commit` releases
    the savepoints first, then commits the transaction, which comes here)."""
    if session.in_nested_transaction():
        return
    session.flush()
    pending: _Settle | None = session.info.pop(_PENDING, None)
    if pending is None:
        return
    now = utcnow()
    patients = sorted(pending.patients)
    pending.marks = [new_id() for _ in patients]
    rows = [
        {"id": m, "patient_id": p, "created_at": now}
        for m, p in zip(pending.marks, patients, strict=True)
    ]
    session.connection().execute(_INSERT, rows)
    pending.committing = True


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ends without its commit (rolled back, closed) leaves nothing to mark.
    (A savepoint rolled back keeps its notes: an extra evaluation changes nothing.)"""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@dataclass(eq=False)
class _Settle:
    """A transaction's evaluation after its commit: every patient it notes joins this one."""

    engine: AsyncEngine | None
    patients: set[uuid.UUID] = field(default_factory=set)
    marks: list[uuid.UUID] = field(default_factory=list)
    committing: bool = False  # its marks were written: the transaction reached its commit

    async def __call__(self) -> None:
        if self.committing and self.engine is not None:
            await settler(self.engine).settle(sorted(self.patients), self.marks)


# --- evaluation ---------------------------------------------------------------------------------


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
    await close_for_death(session, patients, now)  # a death, or a trigger opened after it
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
