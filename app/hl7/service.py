"""Handle one HL7 v2 message: read it, map it to events, run them through the event pipeline
(app.ingestion.service.process: the same validation and exactly-once log as /events), and
answer the ACK. Shared by POST /hl7/v2 and the MLLP listener; never raises for a bad message.

A message is all or nothing: if one of its events is refused, the transaction is rolled back
and the message is answered AE naming every refused field; a message sent again (same MSH-4
and MSH-10) replays its events and is answered AA with no second effect.
"""

import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.db import take_after_commit
from app.errors import DomainError
from app.hl7 import ack, mapping
from app.hl7.mapping import Planned
from app.hl7.reader import (
    DATA_TYPE_ERROR,
    DUPLICATE_KEY,
    INTERNAL_ERROR,
    UNKNOWN_KEY,
    AckCode,
    Issue,
    Message,
    V2Error,
)
from app.hl7.refusals import refusal_row
from app.ingestion import mappers
from app.ingestion import service as pipeline
from app.ingestion.mappers import Incoming
from app.ingestion.rejections import write_rejections

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    code: AckCode
    text: str  # the ACK, ER7
    created: int = 0
    replayed: int = 0
    issues: list[Issue] = field(default_factory=list)  # the ERR segments of an AE or AR


def _table_code(status: int) -> str:
    if status == 409:
        return DUPLICATE_KEY
    if status == 404:
        return UNKNOWN_KEY
    return DATA_TYPE_ERROR if status < 500 else INTERNAL_ERROR


def _issues(
    planned: Planned, status: int, detail: str, errors: list[tuple[str, str]]
) -> list[Issue]:
    code = _table_code(status)
    event_id = planned.body["event_id"]
    if not errors:
        return [Issue(planned.segment, code, f"{event_id}: {detail}")]
    return [
        Issue(planned.location(field), code, f"{event_id} {field}: {message}")
        for field, message in errors
    ]


def _parse(planned: list[Planned]) -> tuple[list[Incoming], list[Issue]]:
    items: list[Incoming] = []
    issues: list[Issue] = []
    for p in planned:
        try:
            items.append(mappers.parse_event(p.body))
        except DomainError as exc:
            issues += _issues(p, exc.status, exc.detail, [(e.field, e.message) for e in exc.errors])
    return items, issues


async def handle(session: AsyncSession, raw: str, credential_id: uuid.UUID | None = None) -> Reply:
    """The ACK for one message. The caller commits the session afterwards (an AE or AR has
    already rolled back whatever the message did, and logged the message as refused)."""
    msg: Message | None = None
    try:
        msg = Message(raw)
        reply = await _answer(session, msg)
    except V2Error as exc:
        reply = Reply(exc.ack, ack.build(msg, exc.ack, exc.issues), issues=exc.issues)
    if reply.code != "AA":
        await write_rejections([refusal_row(msg, raw, reply.code, reply.issues, credential_id)])
    return reply


async def _answer(session: AsyncSession, msg: Message) -> Reply:
    """The reply to a message that could be read (V2Error: refused as a whole)."""
    zone = get_settings().registry_time_zone
    head = mapping.header(msg, zone)
    planned = mapping.plan(msg, head, zone)
    if not planned:
        return Reply("AA", ack.build(msg, "AA", [], "nothing to record"))
    items, issues = _parse(planned)
    if issues:
        return Reply("AE", ack.build(msg, "AE", issues), issues=issues)
    results = await pipeline.process(session, list(items), isolate=True)
    for p, result in zip(planned, results, strict=True):
        if result.status == "rejected" and result.problem is not None:
            problem = result.problem
            errors = [(e.field, e.message) for e in problem.errors or []]
            issues += _issues(p, problem.status, problem.detail, errors)
    if issues:
        await session.rollback()
        take_after_commit(session)  # what the rolled-back events registered must not run
        return Reply("AE", ack.build(msg, "AE", issues), issues=issues)
    created = sum(r.status == "created" for r in results)
    replayed = sum(r.status == "replayed" for r in results)
    text = f"{created} created, {replayed} replayed"
    return Reply("AA", ack.build(msg, "AA", [], text), created, replayed)
