"""What the delivery log records of a failed attempt: its class, never the receiver's words.

A receiver's body or an exception's message can carry what an internal service tells only its
callers (the log showed the first 200 characters of any non-2xx body), so only the class is
kept, beside the status code and the timing.
"""

import contextlib
from enum import StrEnum

import httpx


class Failure(StrEnum):
    refused_url = "refused-url"  # the stored URL is no longer allowed (credentials, http)
    refused_address = "refused-address"  # the host resolved to an address not allowed
    dns_error = "dns-error"
    timeout = "timeout"
    connect_error = "connect-error"  # including TLS: handshake, certificate
    protocol_error = "protocol-error"
    network_error = "network-error"
    http_3xx = "http-3xx"  # redirects are not followed
    http_4xx = "http-4xx"
    http_5xx = "http-5xx"
    unexpected_status = "unexpected-status"


def of_status(status_code: int) -> Failure | None:
    """None for a 2xx answer."""
    if 200 <= status_code < 300:
        return None
    by_class = {3: Failure.http_3xx, 4: Failure.http_4xx, 5: Failure.http_5xx}
    return by_class.get(status_code // 100, Failure.unexpected_status)


def of_exception(kind: type[httpx.HTTPError]) -> Failure:
    if issubclass(kind, httpx.TimeoutException):
        return Failure.timeout
    if issubclass(kind, httpx.ConnectError):
        return Failure.connect_error
    if issubclass(kind, httpx.ProtocolError):
        return Failure.protocol_error
    return Failure.network_error


def of_stored(text: str | None) -> Failure | None:
    """A logged error as its class. Rows written before only the class was kept hold
    "HTTP <status>: <the body's start>" or "<httpx exception class>: <message>"."""
    if text is None:
        return None
    with contextlib.suppress(ValueError):
        return Failure(text)
    head = text.partition(":")[0]
    if head.startswith("HTTP ") and head[5:].isdigit():
        return of_status(int(head[5:])) or Failure.unexpected_status
    kind = getattr(httpx, head, None)
    if isinstance(kind, type) and issubclass(kind, httpx.HTTPError):
        return of_exception(kind)
    return Failure.network_error
