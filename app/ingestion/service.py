"""Event ingestion: every event exactly once, batched, in the request's one transaction.

1. Each event is validated on its own (a bad event in a batch refuses only itself).
2. The events are *claimed* in the event log: one INSERT .. ON CONFLICT (source, event_id) DO
   NOTHING for the whole request, in key order (so overlapping batches never deadlock). A key
   already there is a replay (same payload hash: the original result) or a conflict (409).
   Concurrent identical requests serialise on that unique key: PostgreSQL makes the second
   INSERT wait for the first transaction and then skip; the second then reads the winner.
3. The patients named are found, or created from their identifier (in sorted order).
4. The effects are applied through the REST services: all in one savepoint, and if one event
   is refused, again one savepoint per event, so the valid ones are kept.
5. The log rows get their status and the ids produced; claims of refused events are removed.

The event log's own writes are in eventlog.py, the effects in effects.py and retraction.py.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.recorder import AuditContext
from app.config import get_settings
from app.errors import Conflict, DomainError, FieldIssue, code_of, problem, validation_issues
from app.ingestion import effects, eventlog, group_commit, mappers
from app.ingestion.baselines import warn_missing_baselines
from app.ingestion.context import Applied, Context, Work
from app.ingestion.mappers import Incoming, InvalidEvent
from app.ingestion.schemas import EVENT_TYPES, BatchResult, EventIds, EventResult, EventWarning
from app.ingestion.warnings import event_warnings
from app.models import EventLog, Patient
from app.models.base import new_id
from app.observability import metrics


class BatchTooLarge(DomainError):
    def __init__(self, count: int, limit: int) -> None:
        message = f"A batch holds at most {limit} events; this one has {count}. Split it."
        super().__init__(message, "batch-too-large", 413, (FieldIssue("events", message),))


class EventConflict(Conflict):
    def __init__(self, source: str, event_id: str) -> None:
        super().__init__(
            f"Event {event_id!r} of {source} was accepted before with a different payload; "
            "nothing was changed. Retract it and send the correction with a new event_id.",
            "event-conflict",
        )


@dataclass
class Single:
    result: EventResult


@dataclass
class Batch:
    result: BatchResult


async def ingest(
    session: AsyncSession, body: object, audit: AuditContext | None = None
) -> Single | Batch:
    """POST /events: one event, or {"events": [...]}. With the request's audit context, a
    single event may share its transaction with concurrent ones (group_commit.py)."""
    if isinstance(body, dict) and "events" in body:
        events = body["events"]
        if set(body) != {"events"} or not isinstance(events, list) or not events:
            raise InvalidEvent(
                "A batch is an object with one member, `events`: a non-empty list of events.",
                [FieldIssue("events", "expected a non-empty list, and nothing beside it")],
            )
        limit = get_settings().ingest_batch_max_events
        if len(events) > limit:
            raise BatchTooLarge(len(events), limit)
        items: list[Incoming | DomainError] = [_parse(raw) for raw in events]
        results = await process(session, items, isolate=True)
        return Batch(summarise(results))
    incoming = mappers.parse_event(body)
    settings = get_settings()
    # a request that already holds a connection (its key was not cached) keeps to it
    if audit is not None and settings.ingest_group_max_events > 1 and not session.in_transaction():
        group = group_commit.for_this_loop(
            partial(process, isolate=False),
            settings.ingest_group_writers,
            settings.ingest_group_max_events,
        )
        grouped = await group.submit(incoming, audit)
        if grouped is not None:
            return Single(grouped)
    (result,) = await process(session, [incoming], isolate=False)
    return Single(result)


class UnreadEvent(DomainError):
    """An event refused before it was parsed, with what of its envelope could be read (a batch
    result echoes source, event_id and type whenever they are there)."""

    def __init__(self, error: DomainError, raw: object) -> None:
        super().__init__(error.detail, error.code, error.status, error.errors, error.headers)
        fields = raw if isinstance(raw, dict) else {}
        self.echo = {
            name: value[:200]
            for name in ("source", "event_id", "type")
            if isinstance(value := fields.get(name), str) and value
        }


def _parse(raw: object) -> Incoming | DomainError:
    try:
        return mappers.parse_event(raw)
    except DomainError as exc:
        return UnreadEvent(exc, raw)


def summarise(results: Sequence[EventResult]) -> BatchResult:
    counts = {"created": 0, "replayed": 0, "rejected": 0}
    for r in results:
        counts[r.status] += 1
    return BatchResult(**counts, results=list(results))


async def process(
    session: AsyncSession, items: Sequence[Incoming | DomainError], *, isolate: bool
) -> list[EventResult]:
    """Log and apply events. `isolate`: refuse events one by one (a batch); otherwise the
    first refusal is raised and the caller's transaction rolls back (a single event)."""
    ctx = Context(session)
    results: dict[int, EventResult] = {}
    works: list[Work] = []
    primaries: dict[tuple[str, str], Work] = {}
    repeats: list[tuple[int, Incoming, Work]] = []
    for index, item in enumerate(items):
        if isinstance(item, DomainError):
            results[index] = _rejected(index, None, item)
        elif item.key in primaries:
            repeats.append((index, item, primaries[item.key]))
        else:
            work = Work(index, item, new_id())
            primaries[item.key] = work
            works.append(work)

    claimed_ids = await eventlog.claim(session, sorted(works, key=lambda w: w.ev.key))
    for work in works:
        work.claimed = work.log_id in claimed_ids
    await _answer_unclaimed(ctx, [w for w in works if not w.claimed], results, isolate)
    claimed = [w for w in works if w.claimed]
    ctx.works = {w.ev.key: w for w in claimed}
    problems: dict[int, DomainError] = {}
    if claimed:
        await eventlog.lock_procedure_keys(session, claimed)
        await ctx.ensure_patients(w.ev.patient for w in claimed if _needs_patient(w))
        await ctx.load_procedures(w.ev.procedure_key for w in claimed if w.ev.procedure_key)
        await _apply_all(ctx, claimed, problems, isolate)
        await eventlog.write_outcomes(ctx, claimed)
        await _drop_unused_patients(ctx, claimed)
    for work in claimed:
        error = problems.get(work.index)
        results[work.index] = _rejected(work.index, work.ev, error) if error else _created(work)
    for index, ev, primary in repeats:
        first = results[primary.index]
        if ev.fingerprint != primary.ev.fingerprint:
            results[index] = _rejected(index, ev, EventConflict(ev.source, ev.event_id))
        elif first.status == "rejected":
            results[index] = first.model_copy(update={"index": index})
        else:
            results[index] = first.model_copy(update={"index": index, "status": "replayed"})
    answered = [results[i] for i in range(len(items))]
    await warn_missing_baselines(session, answered)
    metrics.events_ingested(answered, EVENT_TYPES)  # by type and outcome (app.observability)
    return answered


# --- claiming --------------------------------------------------------------------------------
async def _answer_unclaimed(
    ctx: Context, works: Sequence[Work], results: dict[int, EventResult], isolate: bool
) -> None:
    """Events whose key was already in the log: replays, conflicts, or events that a
    retraction reached first (a placeholder, which the event now fills in, unapplied)."""
    if not works:
        return
    stored = await eventlog.stored(ctx.session, (w.ev.key for w in works))
    for work in works:
        ev = work.ev
        row = stored.get(ev.key)
        if row is None:  # the earlier holder of the key was rolled back meanwhile
            raise Conflict("A concurrent request holds this event; retry.", "retry")
        if row.payload_hash is None and await eventlog.fill_placeholder(ctx.session, row, ev):
            work.claimed, work.log_id = True, row.id
            work.placeholder_of = work.retract_before_apply = row.retracted_by or ""
            continue
        if row.payload_hash == ev.fingerprint:
            results[work.index] = _replayed(work.index, row)
        elif not isolate:
            raise EventConflict(ev.source, ev.event_id)
        else:
            results[work.index] = _rejected(work.index, ev, EventConflict(ev.source, ev.event_id))


# --- applying --------------------------------------------------------------------------------
async def _apply_one(ctx: Context, work: Work) -> Applied:
    try:
        return await effects.apply(ctx, work)
    except ValidationError as exc:  # a service re-validated a merged record
        issues = [
            FieldIssue(mappers.event_field(i.field), i.message)
            for i in validation_issues(exc.errors())
        ]
        raise InvalidEvent("Invalid event: " + ", ".join(i.field for i in issues), issues) from None
    except DomainError as exc:
        raise mappers.event_error(exc) from None


async def _apply_all(
    ctx: Context, works: Sequence[Work], problems: dict[int, DomainError], isolate: bool
) -> None:
    if not isolate:
        for work in works:
            work.outcome = await _apply_one(ctx, work)
        await ctx.flush()
        return
    try:  # optimistic: the whole batch in one savepoint
        async with ctx.session.begin_nested():
            for work in works:
                work.outcome = await _apply_one(ctx, work)
            await ctx.flush()
        return
    except (DomainError, IntegrityError):
        pass
    # some event was refused: again, one savepoint per event
    for work in works:
        work.outcome = None
        work.retract_before_apply = work.placeholder_of
    ctx.forget()
    for work in works:
        try:
            await ctx.ensure_patients([work.ev.patient] if _needs_patient(work) else [])
            async with ctx.session.begin_nested():
                work.outcome = await _apply_one(ctx, work)
                await ctx.flush()
        except DomainError as exc:
            problems[work.index] = exc
            work.outcome, work.refused = None, True
            ctx.forget()
        except IntegrityError:
            problems[work.index] = Conflict("This event conflicts with stored data.")
            work.outcome, work.refused = None, True
            ctx.forget()


def _needs_patient(work: Work) -> bool:
    """A retraction only looks its patient up; an event already retracted is not applied."""
    return work.ev.type != "event.retracted" and work.placeholder_of is None


async def _drop_unused_patients(ctx: Context, works: Sequence[Work]) -> None:
    """Patients created from an identifier for events that were all refused."""
    used = {w.outcome.patient_id for w in works if w.outcome is not None}
    unused = ctx.new_stubs - used
    if not unused:
        return
    for patient in list(ctx.session.identity_map.values()):
        if isinstance(patient, Patient) and patient.id in unused:
            ctx.session.expunge(patient)
    await ctx.session.execute(
        delete(Patient).where(Patient.id.in_(unused)).execution_options(synchronize_session=False)
    )


# --- results ---------------------------------------------------------------------------------
def _rejected(index: int, ev: Incoming | None, error: DomainError) -> EventResult:
    echo = error.echo if isinstance(error, UnreadEvent) else {}
    return EventResult(
        index=index,
        source=ev.source if ev else echo.get("source"),
        event_id=ev.event_id if ev else echo.get("event_id"),
        type=ev.type if ev else echo.get("type"),
        status="rejected",
        problem=problem(error.status, error.code, error.detail, error.errors),
    )


def _created(work: Work) -> EventResult:
    outcome = work.outcome
    assert outcome is not None
    return EventResult(
        index=work.index,
        source=work.ev.source,
        event_id=work.ev.event_id,
        type=work.ev.type,
        status="created",
        event_status=outcome.status,
        ids=EventIds.model_validate(outcome.ids),
        problem=stored_problem(outcome.problem),
        warnings=event_warnings(work.ev, outcome.awaiting or outcome.status == "pending"),
    )


def _replayed(index: int, row: EventLog) -> EventResult:
    return EventResult(
        index=index,
        source=row.source,
        event_id=row.event_id,
        type=row.type,
        status="replayed",
        event_status=row.status,
        ids=EventIds.model_validate(row.result or {}),
        problem=stored_problem(row.problem),
        warnings=logged_warnings(row),
    )


def logged_warnings(row: EventLog) -> list[EventWarning]:
    """The warnings of a logged event, recomputed from its payload as it is now."""
    if row.payload is None or row.status in {"retracted", "failed"}:
        return []
    try:
        ev = mappers.parse_event(row.payload)
    except DomainError:  # a FHIR resource, or a payload minimised since
        return []
    return event_warnings(ev, row.awaiting_procedure or row.status == "pending")


def stored_problem(value: dict[str, Any] | None) -> Any:
    return None if value is None else problem(**_problem_args(value))


def _problem_args(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": value["status"],
        "code": code_of(str(value["type"])),
        "detail": value["detail"],
        "errors": [FieldIssue(e["field"], e["message"]) for e in value.get("errors") or []],
    }
