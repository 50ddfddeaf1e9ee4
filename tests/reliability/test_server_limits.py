"""`vertebro serve` as deployed, on a loopback port: bounded request headers, read timeouts,
and which proxy's X-Forwarded-For is believed. Raw sockets, since a well-behaved client
cannot send what these refuse."""

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.models import AuditEvent
from tests.conftest import DATABASE_URL
from tests.reliability.procs import ROOT, SERVER_ENV, free_port, stop_process, wait_for_health

TIMEOUT_S = 1.0  # the header and body timeouts these servers run with
LIMITS = {"HTTP_HEADER_TIMEOUT_S": str(TIMEOUT_S), "HTTP_BODY_TIMEOUT_S": str(TIMEOUT_S)}


def _serve(port: int) -> list[str]:
    return [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port)]


@contextlib.asynccontextmanager
async def serving(env: dict[str, str]) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *_serve(port),
        cwd=ROOT,
        env={**os.environ, **SERVER_ENV, "DATABASE_URL": DATABASE_URL, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_for_health(f"http://127.0.0.1:{port}")
        yield "127.0.0.1", port
    finally:
        await stop_process(process)


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[tuple[str, int]]:
    async with serving({**LIMITS, "FORWARDED_ALLOW_IPS": "127.0.0.1"}) as address:
        yield address


async def _exchange(address: tuple[str, int], *parts: bytes, pause_s: float = 0) -> bytes:
    """Send `parts`, then read until the server closes (at most 10 s)."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        for part in parts:
            writer.write(part)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            await asyncio.sleep(pause_s)
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


async def test_a_one_mebibyte_header_is_refused(server: tuple[str, int]) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: "
    answer = await _exchange(server, head + b"a" * 1024 * 1024 + b"\r\n\r\n")
    assert _status(answer) == 431, answer[:200]
    assert b"application/problem+json" in answer


async def test_five_thousand_headers_are_refused(server: tuple[str, int]) -> None:
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(5000))
    answer = await _exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert _status(answer) == 431, answer[:200]


async def test_ordinary_requests_still_pass(server: tuple[str, int]) -> None:
    host, port = server
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        jwt_sized = {f"X-Field-{i}": "v" * 200 for i in range(40)}  # 8 KiB of headers
        for _ in range(3):  # on one kept-alive connection
            assert (await client.get("/health", headers=jwt_sized)).status_code == 200


async def test_slow_headers_are_cut_off(server: tuple[str, int]) -> None:
    started = time.monotonic()
    answer = await _exchange(server, b"GET /health HTTP/1.1\r\n", b"Host: x\r\n", pause_s=0.4)
    assert time.monotonic() - started < TIMEOUT_S + 3
    assert _status(answer) in (0, 408), answer[:200]


async def test_a_silent_connection_is_closed(server: tuple[str, int]) -> None:
    started = time.monotonic()
    answer = await _exchange(server)
    assert time.monotonic() - started < TIMEOUT_S + 3
    assert _status(answer) in (0, 408), answer[:200]


async def test_a_stalled_body_is_cut_off(server: tuple[str, int]) -> None:
    started = time.monotonic()
    head = (
        b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    answer = await _exchange(server, head)
    assert time.monotonic() - started < TIMEOUT_S + 3
    assert _status(answer) in (0, 408), answer[:200]


async def test_the_client_address_is_the_hop_the_trusted_proxy_saw(
    server: tuple[str, int],
) -> None:
    """The test client plays the proxy (127.0.0.1, trusted); the left-most entry is whatever
    the client sent, the right-most untrusted one is what the proxy saw."""
    host, port = server
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        response = await client.get(
            "/api/v1/cases",
            headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7", "X-Request-ID": "xff-1"},
        )
    assert response.status_code == 401
    async with get_sessionmaker()() as session:
        rows = (
            await session.scalars(select(AuditEvent).where(AuditEvent.request_id == "xff-1"))
        ).all()
    assert [r.client_address for r in rows] == ["203.0.113.7"]


async def test_serve_refuses_to_trust_every_address() -> None:
    """FORWARDED_ALLOW_IPS=* makes uvicorn take the left-most, client-written address."""
    process = await asyncio.create_subprocess_exec(
        *_serve(free_port()),
        cwd=ROOT,
        env={**os.environ, **SERVER_ENV, "DATABASE_URL": DATABASE_URL, "FORWARDED_ALLOW_IPS": "*"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _out, err = await asyncio.wait_for(process.communicate(), 20)
    except TimeoutError:
        await stop_process(process)
        pytest.fail("serve started with FORWARDED_ALLOW_IPS=*")
    assert process.returncode != 0
    assert b"FORWARDED_ALLOW_IPS" in err


async def test_a_body_sent_after_its_answer_is_not_taken_for_headers(
    server: tuple[str, int],
) -> None:
    """An unmatched route answers 404 without reading the body; the rest of that body, sent
    afterwards, is still body (not an oversized header), and the connection serves on."""
    reader, writer = await asyncio.open_connection(*server)
    try:
        size = 100_000
        writer.write(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nab" % size)
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = int(first.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(b"a" * (size - 2) + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        second = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    finally:
        writer.close()
    assert _status(first) == 404
    assert _status(second) == 200, second
