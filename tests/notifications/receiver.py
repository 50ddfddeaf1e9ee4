"""A real webhook receiver on loopback: a minimal HTTP/1.1 server on asyncio streams."""

import asyncio
import contextlib
import json
import ssl
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def message_id(self) -> str:
        return self.headers["x-vertebro-message-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    status: int = 200
    reply: bytes = b"ok"
    reply_headers: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None
    connections: int = 0  # accepted, whether or not a request followed
    requests: list[Received] = field(default_factory=list)
    gate: asyncio.Event | None = None  # when set up, responses wait for it
    port: int = 0
    _server: asyncio.Server | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/hooks"

    async def start(self) -> "Receiver":
        self._server = await asyncio.start_server(self._handle, self.host, self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def wait_for(self, count: int) -> None:
        """Until `count` requests arrived; bounded (20 s)."""

        async def enough() -> None:
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), 20)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(headers, body))
            self.arrived.set()
            if self.gate is not None:
                await self.gate.wait()
            reason = "OK" if self.status < 400 else "Error"
            extra = "".join(f"{k}: {v}\r\n" for k, v in self.reply_headers.items())
            writer.write(
                f"HTTP/1.1 {self.status} {reason}\r\nContent-Length: {len(self.reply)}\r\n"
                f"Content-Type: text/plain\r\nConnection: close\r\n{extra}\r\n".encode()
                + self.reply
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
