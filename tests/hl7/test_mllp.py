"""The MLLP listener over a real TCP socket on 127.0.0.1."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from app.auth.scopes import EVENTS_WRITE
from app.db import get_sessionmaker
from app.hl7 import mllp
from app.models import AuditEvent, FollowUpEvent, Patient
from tests.conftest import make_api_key
from tests.hl7.helpers import Ack, message, msh, obx, pid, read_ack
from tests.ingestion.helpers import count

MAX_BYTES = 4096


@pytest.fixture
async def listener() -> AsyncIterator[tuple[str, int]]:
    key = await make_api_key(EVENTS_WRITE, name="mllp")
    server = await mllp.start("127.0.0.1", 0, key, MAX_BYTES)
    host, port = server.sockets[0].getsockname()[:2]
    yield host, port
    server.close()
    await server.wait_closed()


async def _exchange(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, text: str) -> Ack:
    writer.write(b"\x0b" + text.encode() + b"\x1c\x0d")
    await writer.drain()
    data = await reader.readuntil(b"\x1c\x0d")
    assert data.startswith(b"\x0b")
    return read_ack(data[1:-2].decode())


async def test_messages_on_one_connection_are_acknowledged_in_order(
    listener: tuple[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(*listener)
    oru = message(msh("ORU^R01", "L-2"), pid(), obx(1, "72514-3", "7", "20190302100000+0000"))
    try:
        first = await _exchange(writer, reader, message(msh("ADT^A04", "L-1"), pid()))
        second = await _exchange(writer, reader, oru)
        again = await _exchange(writer, reader, oru)
        bad = await _exchange(
            writer, reader, message(msh("ORU^R01", "L-3"), pid(), obx(1, "1-8", "7", "2019"))
        )
    finally:
        writer.close()
    assert [(a.code, a.control_id) for a in (first, second, again, bad)] == [
        ("AA", "L-1"),
        ("AA", "L-2"),
        ("AA", "L-2"),
        ("AE", "L-3"),
    ]
    assert "1 replayed" in again.raw
    assert await count(FollowUpEvent) == 1 and await count(Patient) == 1
    async with get_sessionmaker()() as session:
        rows = (
            await session.scalars(select(AuditEvent).where(AuditEvent.route == mllp.ROUTE))
        ).all()
    assert len(rows) == 4
    assert all(r.credential_label and r.credential_label.startswith("vtb_") for r in rows)
    assert sum(r.patient_id is not None for r in rows) >= 3


async def test_an_oversized_frame_is_refused_ar_and_the_connection_closed(
    listener: tuple[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(*listener)
    big = message(msh("ADT^A04", "BIG-1"), pid(), "ZXX|" + "x" * (MAX_BYTES * 2))
    try:
        writer.write(b"\x0b" + big.encode() + b"\x1c\x0d")
        await writer.drain()
        data = await reader.readuntil(b"\x1c\x0d")
        ack = read_ack(data[1:-2].decode())
        assert ack.code == "AR" and str(MAX_BYTES) in ack.errors[0][2]
        assert await reader.read() == b""  # closed by the listener
    finally:
        writer.close()
    assert await count(Patient) == 0


async def test_the_listener_needs_a_key_with_events_write() -> None:
    key = await make_api_key("cases:read", name="reader")
    with pytest.raises(mllp.KeyRefused, match="events:write"):
        await mllp.start("127.0.0.1", 0, key, MAX_BYTES)
    with pytest.raises(mllp.KeyRefused):
        await mllp.start("127.0.0.1", 0, "vtb_not_a_key", MAX_BYTES)


def test_the_command_needs_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    monkeypatch.delenv("HL7_MLLP_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["mllp", "--port", "0"])
    assert result.exit_code == 2 and "HL7_MLLP_API_KEY" in result.output


async def test_the_same_message_on_five_connections_at_once_is_stored_once(
    listener: tuple[str, int],
) -> None:
    text = message(msh("ORU^R01", "RACE-1"), pid(), obx(1, "72514-3", "4", "20190302100000+0000"))

    async def one() -> Ack:
        reader, writer = await asyncio.open_connection(*listener)
        try:
            return await _exchange(writer, reader, text)
        finally:
            writer.close()

    acks = await asyncio.gather(*(one() for _ in range(5)))
    assert [a.code for a in acks] == ["AA"] * 5
    assert sum("1 created" in a.raw for a in acks) == 1
    assert await count(FollowUpEvent) == 1 and await count(Patient) == 1
