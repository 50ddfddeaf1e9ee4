"""The event log's writes: claiming keys, reading what is stored, recording outcomes.

`(source, event_id)` is unique; the events of a request are claimed with one
INSERT .. ON CONFLICT DO NOTHING in key order (concurrent identical requests wait on the key
and then skip; overlapping batches take the keys in one order, so they cannot deadlock).
"""

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.ingestion.context import Context, Work
from app.ingestion.mappers import Incoming
from app.models import EventLog
from app.models.base import utcnow

_LOG_COLUMNS = (
    "status", "result", "patient_id", "record_id", "awaiting_procedure", "retracted_by",
    "problem", "updated_at",
)  # fmt: skip


_log = cast(Table, EventLog.__table__)
# executemany with RETURNING: SQLAlchemy sends the rows as multi-VALUES batches ("insertmanyvalues")
# from one cached compiled statement (.values([...]) would be compiled anew on every request)
_CLAIM = {
    dialect: insert(_log).on_conflict_do_nothing(index_elements=["source", "event_id"])
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


async def claim(session: AsyncSession, works: Sequence[Work]) -> set[uuid.UUID]:
    if not works:
        return set()
    now = utcnow()
    rows = [
        {
            "id": w.log_id,
            "source": w.ev.source,
            "event_id": w.ev.event_id,
            "type": w.ev.type,
            "occurred_at": w.ev.occurred_at,
            "received_at": now,
            "updated_at": now,
            "payload": w.ev.payload,
            "payload_hash": w.ev.fingerprint,
            "status": "applied",
            "result": {},
            "procedure_system": w.ev.procedure_key[0] if w.ev.procedure_key else None,
            "procedure_ref": w.ev.procedure_key[1] if w.ev.procedure_key else None,
            "awaiting_procedure": False,
        }
        for w in works
    ]
    stmt = _CLAIM[session.get_bind().dialect.name].returning(_log.c.id)
    result = await session.execute(stmt, rows)  # in the (sorted) order given
    return set(result.scalars())


async def stored(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> dict[Any, EventLog]:
    by_source: dict[str, set[str]] = defaultdict(set)
    for source, event_id in keys:
        by_source[source].add(event_id)
    found: dict[Any, EventLog] = {}
    for source, event_ids in by_source.items():
        rows = await session.scalars(
            select(EventLog)
            .where(EventLog.source == source, EventLog.event_id.in_(event_ids))
            .execution_options(populate_existing=True)
        )
        found.update({(r.source, r.event_id): r for r in rows})
    return found


async def fill_placeholder(session: AsyncSession, row: EventLog, ev: Incoming) -> bool:
    done = await session.execute(
        update(EventLog)
        .where(EventLog.id == row.id, EventLog.payload_hash.is_(None))
        .values(
            type=ev.type,
            occurred_at=ev.occurred_at,
            payload=ev.payload,
            payload_hash=ev.fingerprint,
            procedure_system=ev.procedure_key[0] if ev.procedure_key else None,
            procedure_ref=ev.procedure_key[1] if ev.procedure_key else None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) == 1:
        return True
    await session.refresh(row)  # filled by a concurrent request: compare with theirs
    return False


async def lock_procedure_keys(session: AsyncSession, works: Sequence[Work]) -> None:
    """PostgreSQL: events naming the same procedure reference take turns (a transaction-scoped
    advisory lock per reference, in one order), so a follow-up that arrives while its
    procedure is being recorded by a concurrent request is never left unlinked. (SQLite
    writers take turns anyway.)"""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = {w.ev.procedure_key for w in works if w.ev.procedure_key}
    if not keys:
        return
    ids = sorted(
        int.from_bytes(hashlib.sha256(f"{s}\x00{r}".encode()).digest()[:8], "big", signed=True)
        for s, r in keys
    )
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
        ),
        {"keys": ids},
    )


_LOG_UPDATE = (
    update(_log)
    .where(_log.c.id == bindparam("row_id"))
    .values({name: bindparam(name) for name in _LOG_COLUMNS})
)


async def write_outcomes(ctx: Context, works: Sequence[Work]) -> None:
    now = utcnow()
    refused = [w.log_id for w in works if w.outcome is None and not w.retracted_while_refused]
    if refused:  # nothing is stored from a refused event
        await ctx.session.execute(
            delete(EventLog)
            .where(EventLog.id.in_(refused))
            .execution_options(synchronize_session=False)
        )
    for w in works:  # refused, but retracted too: only the retraction's placeholder remains
        if w.outcome is None and w.retracted_while_refused:
            await ctx.session.execute(
                update(EventLog)
                .where(EventLog.id == w.log_id)
                .values(
                    type=None, occurred_at=None, payload=None, payload_hash=None,
                    status="retracted", retracted_by=w.retracted_while_refused, result={},
                    procedure_system=None, procedure_ref=None, updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )  # fmt: skip
    rows = [
        {
            "row_id": w.log_id,
            "status": w.outcome.status,
            "result": w.outcome.ids,
            "patient_id": w.outcome.patient_id,
            "record_id": w.outcome.record_id,
            "awaiting_procedure": w.outcome.awaiting,
            "retracted_by": w.outcome.retracted_by,
            "problem": w.outcome.problem,
            "updated_at": now,
        }
        for w in works
        if w.outcome is not None
    ]
    if rows:  # one executemany (Core: the ORM's bulk update costs more per row)
        await ctx.session.execute(_LOG_UPDATE, rows)
