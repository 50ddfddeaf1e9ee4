"""The MLLP listener (`vertebro mllp`): HL7 v2 over TCP, each message framed 0x0B ... 0x1C 0x0D,
each answered with its ACK in the same framing, in order, on the same connection.

It acts as one API key (HL7_MLLP_API_KEY or --api-key), checked at start and for every message
(a key revoked meanwhile is answered AR), which must hold events:write; every message is
audited as that credential, with the patients it touched, like POST /hl7/v2. A frame larger
than HL7_MLLP_MAX_FRAME_BYTES is answered AR and the connection closed (it cannot be resynced).
"""

import asyncio
import logging
from functools import partial

from app.audit.recorder import AuditContext, PatientCollector, add_rows
from app.auth.principal import Principal
from app.auth.scopes import EVENTS_WRITE
from app.auth.service import authenticate_key
from app.db import commit, get_sessionmaker
from app.errors import DomainError
from app.hl7 import ack, service
from app.hl7.reader import INTERNAL_ERROR, Issue, Message, V2Error
from app.hl7.router import decode

START = b"\x0b"
END = b"\x1c\x0d"
ROUTE = "mllp:/hl7/v2"
log = logging.getLogger(__name__)


class KeyRefused(Exception):
    pass


async def authenticate(api_key: str) -> Principal:
    """The principal the listener acts as, or KeyRefused."""
    async with get_sessionmaker()() as session:
        try:
            principal = await authenticate_key(session, api_key)
        except DomainError as exc:
            raise KeyRefused(exc.detail) from None
    if not principal.has(EVENTS_WRITE):
        raise KeyRefused(f"The API key {principal.label} lacks the scope {EVENTS_WRITE}.")
    return principal


def frame(text: str) -> bytes:
    return START + text.encode("utf-8") + END


def _refusal(raw: str | None, text: str) -> str:
    try:
        msg = Message(raw) if raw else None
    except V2Error:
        msg = None
    return ack.build(msg, "AR", [Issue("MSH^1", INTERNAL_ERROR, text)])


async def answer(raw: str, api_key: str, peer: str | None) -> str:
    """The ACK of one message, handled in its own transaction and audited."""
    try:
        principal = await authenticate(api_key)
    except KeyRefused as exc:
        return _refusal(raw, f"The listener's credential is refused: {exc}")
    async with get_sessionmaker()() as session:
        audit = AuditContext("MLLP", ROUTE, None, peer, principal=principal)
        audit.mark_scopes([EVENTS_WRITE])
        try:
            with PatientCollector(audit, session.sync_session):
                reply = await service.handle(session, raw, principal.id)
            await add_rows(session, audit.rows(200, None))
            await commit(session)
        except Exception:
            log.exception("HL7 v2 message over MLLP failed")
            await session.rollback()
            return _refusal(raw, "The registry could not store the message; send it again.")
    return reply.text


async def connection(
    api_key: str, max_bytes: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    peername = writer.get_extra_info("peername")
    peer = str(peername[0]) if peername else None
    try:
        while True:
            try:
                data = await reader.readuntil(END)
            except asyncio.IncompleteReadError:
                return  # the peer closed the connection (between messages, or mid-frame)
            except asyncio.LimitOverrunError:
                writer.write(frame(_refusal(None, f"The frame exceeds {max_bytes} bytes.")))
                await writer.drain()
                return
            start = data.find(START)
            if start < 0:
                writer.write(frame(_refusal(None, "A frame starts with 0x0B.")))
                await writer.drain()
                continue
            raw = decode(data[start + 1 : -len(END)])
            writer.write(frame(await answer(raw, api_key, peer)))
            await writer.drain()
    finally:
        writer.close()


async def start(host: str, port: int, api_key: str, max_bytes: int) -> asyncio.Server:
    """A listening server (port 0: any free port); the key is checked first (KeyRefused)."""
    await authenticate(api_key)
    handler = partial(connection, api_key, max_bytes)
    return await asyncio.start_server(handler, host, port, limit=max_bytes + len(END))
