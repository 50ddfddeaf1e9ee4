"""Group commit: single events that arrive at one process at the same time share a transaction.

A single event costs about seven database round trips (begin, claim, patient, insert, log
outcome, audit, commit); a batch of a hundred costs barely more. So while one group is being
written, the single events that arrive meanwhile wait (no timer: they queue only because the
database is busy) and then go together as the next group, through the same `process` a batch
uses. Each request still answers only after the commit that holds its event and its audit row.

A group in which any event is refused, or that fails in any way, is rolled back and each of
its events is then processed alone, in its own request's transaction, exactly as without
grouping: a refusal never depends on the neighbours an event happened to travel with.
"""

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.audit.recorder import AuditContext, add_rows
from app.db import get_sessionmaker, run_after_commit, take_after_commit
from app.errors import DomainError
from app.ingestion.mappers import Incoming
from app.ingestion.schemas import EventResult

log = logging.getLogger("vertebro.ingestion")

Process = Callable[[AsyncSession, Sequence[Incoming]], Awaitable[list[EventResult]]]


@dataclass(eq=False)
class _Waiting:
    event: Incoming
    audit: AuditContext
    result: EventResult | None = None
    alone: bool = False  # to be processed alone, in the request's own transaction


class GroupCommit:
    """One per event loop (process). `groups`: how many groups may be written at once."""

    def __init__(self, process: Process, groups: int, max_events: int) -> None:
        self.process = process
        self.groups = groups
        self.max_events = max_events
        self._queue: deque[_Waiting] = deque()
        self._writing = 0
        self._changed = asyncio.Event()

    async def submit(self, event: Incoming, audit: AuditContext) -> EventResult | None:
        """The event's committed result (its audit rows committed with it), or None: process
        it alone."""
        waiting = _Waiting(event, audit)
        self._queue.append(waiting)
        while waiting.result is None and not waiting.alone:
            if self._writing < self.groups and self._queue:
                await self._write_next_group()
            else:
                await self._changed.wait()
        return waiting.result

    async def _write_next_group(self) -> None:
        group = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_events))]
        self._writing += 1
        writing = True
        committed: list[tuple[_Waiting, EventResult]] = []
        try:
            committed, after = await self._write(group)
            # the next group may write while this one's imaging triggers are evaluated
            self._writing, writing = self._writing - 1, False
            self._notify()
            await run_after_commit(after)
        except (DomainError, IntegrityError, StaleDataError):  # a refusal, or a lost race
            log.debug("a group of %d events was refused; each goes alone", len(group))
        except Exception:
            log.warning("a group of %d events failed; each goes alone", len(group), exc_info=True)
        finally:  # also when this request is cancelled: the others must not wait forever
            for waiting, result in committed:
                waiting.audit.recorded = True
                waiting.result = result
            for waiting in group:
                waiting.alone = waiting.alone or waiting.result is None
            if writing:
                self._writing -= 1
            self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _write(
        self, group: Sequence[_Waiting]
    ) -> tuple[list[tuple[_Waiting, EventResult]], list[Callable[[], Awaitable[None]]]]:
        """Write and commit the group; returns the committed results and the work to run
        after the commit (answers wait for it)."""
        async with get_sessionmaker()() as session:
            results = await self.process(session, [w.event for w in group])
            kept = [(w, r) for w, r in zip(group, results, strict=True) if r.status != "rejected"]
            for waiting, result in kept:
                if result.ids is not None:
                    waiting.audit.note_patient(result.ids.patient_id)
                await add_rows(session, waiting.audit.rows(result.http_status, None))
            await session.commit()
            return kept, take_after_commit(session)


_per_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit]" = (
    weakref.WeakKeyDictionary()
)


def for_this_loop(process: Process, groups: int, max_events: int) -> GroupCommit:
    loop = asyncio.get_running_loop()
    committer = _per_loop.get(loop)
    if committer is None:
        committer = _per_loop[loop] = GroupCommit(process, groups, max_events)
    committer.groups, committer.max_events = groups, max_events  # the settings as they are now
    return committer
