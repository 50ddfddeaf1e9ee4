"""How `vertebro serve` runs uvicorn: its options, and the limits it has no option for.

uvicorn (httptools) accepts request headers of any size and number, and has no read timeout:
only an idle kept-alive connection is closed (`timeout_keep_alive`). `BoundedHttpProtocol`
adds, per connection (HTTP_* settings):

* headers: at most `http_max_header_bytes` (request line included) and `http_max_headers`
  fields, else 431 problem+json; they must all arrive within `http_header_timeout_s` of the
  connection (or of the request's first byte), else 408;
* a body may pause at most `http_body_timeout_s` between reads, else 408.

A refused connection is closed after its answer, once the client stops sending (at most
`_LINGER_S` later), so the answer is not lost to a reset.
"""

import asyncio
from typing import Any, Literal

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import get_settings
from app.errors import PROBLEM_JSON, problem

KEEP_ALIVE_S = 5
_LINGER_S = 2.0
_LOCAL_PROXIES = "127.0.0.1,::1"


class _Refused(Exception):
    """Raised from a parser callback: stops parsing the request."""


class BoundedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.header_timeout = settings.http_header_timeout_s
        self.body_timeout = settings.http_body_timeout_s
        self.max_header_bytes = settings.http_max_header_bytes
        self.max_headers = settings.http_max_headers
        self._phase: Literal["headers", "body", "app"] = "headers"
        self._header_bytes = 0  # exact: request line and fields as parsed
        self._header_fields = 0
        self._raw_header_bytes = 0  # received while the headers were incomplete
        self._timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str, str] | None = None

    # --- phases -----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect_headers(arm=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._expect_headers(arm=self._timer is None)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._phase = "body"
        self._arm(self.body_timeout, self._body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._phase = "app"
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # arms the keep-alive timeout for the next request
        if self._phase == "app":  # else the rest of the request's body is still to come
            self._expect_headers(arm=False)

    def _expect_headers(self, *, arm: bool) -> None:
        if self._phase != "headers":
            self._phase = "headers"
            self._header_bytes = self._header_fields = self._raw_header_bytes = 0
        if arm:
            self._arm(self.header_timeout, self._headers_timed_out)

    # --- reading ----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # lingering: what the client still sends is dropped
        reading_headers = self._phase == "headers"
        if self._phase == "body":
            self._arm(self.body_timeout, self._body_timed_out)
        super().data_received(data)
        # a header still incomplete is held by the parser: bound it before it is complete
        if reading_headers and self._phase == "headers" and self._refusal is None:
            self._raw_header_bytes += len(data)
            if self._raw_header_bytes > self.max_header_bytes:
                self._refuse_headers()
                self._answer_refusal()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), fields=0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), fields=1)
        super().on_header(name, value)

    def _count(self, size: int, fields: int) -> None:
        self._header_bytes += size
        self._header_fields += fields
        if self._header_bytes > self.max_header_bytes or self._header_fields > self.max_headers:
            self._refuse_headers()
            raise _Refused

    def _refuse_headers(self) -> None:
        self._refusal = (
            431,
            "header-fields-too-large",
            f"Request headers are limited to {self.max_header_bytes} bytes "
            f"and {self.max_headers} fields.",
        )

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error, which a callback raising _Refused is too."""
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._answer_refusal()

    # --- timeouts ---------------------------------------------------------------------------
    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_timed_out(self) -> None:
        self._timer = None
        self._refusal = (408, "request-timeout", "The request headers took too long.")
        self._answer_refusal()

    def _body_timed_out(self) -> None:
        self._timer = None
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()
            return
        self._refusal = (408, "request-timeout", "The request body stopped arriving.")
        self._answer_refusal()

    def _answer_refusal(self) -> None:
        if self._refusal is None or self.transport.is_closing():
            return
        status, code, detail = self._refusal
        answer = problem(status, code, detail)
        body = answer.model_dump_json(exclude_none=True).encode()
        head = [f"HTTP/1.1 {status} {answer.title}".encode()]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        head += [
            b"content-type: " + PROBLEM_JSON.encode(),
            b"content-length: " + str(len(body)).encode(),
            b"x-content-type-options: nosniff",
            b"cache-control: no-store",
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        if self.cycle is not None:
            self.cycle.disconnected = True  # the application's answer, if any, is dropped
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(_LINGER_S, self.transport.close)
        else:
            self.transport.close()

    def eof_received(self) -> None:
        if self._refusal is not None:
            self.transport.close()


def proxy_addresses(forwarded_allow_ips: str) -> str:
    """The proxies whose X-Forwarded-For uvicorn believes; ValueError for `*`, with which it
    takes the left-most address, the one the client wrote."""
    hosts = [h.strip() for h in forwarded_allow_ips.split(",") if h.strip()]
    if "*" in hosts:
        raise ValueError(
            "FORWARDED_ALLOW_IPS must list the proxies' addresses (or networks), not *: "
            "uvicorn would then record the client-written, left-most X-Forwarded-For address"
        )
    return ",".join(hosts) or _LOCAL_PROXIES


def uvicorn_options(forwarded_allow_ips: str) -> dict[str, Any]:
    return {
        "http": BoundedHttpProtocol,
        "proxy_headers": True,
        "forwarded_allow_ips": proxy_addresses(forwarded_allow_ips),
        "timeout_keep_alive": KEEP_ALIVE_S,
    }
