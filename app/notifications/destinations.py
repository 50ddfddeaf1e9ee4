"""Where webhooks may go (server-side request forgery): checked when a URL is registered and
again at every delivery, against what the host resolves to then.

Allowed: http or https (https only in production), no credentials, and a host whose every
address is public. Not public: unspecified, loopback, link-local, multicast, private (RFC 1918,
unique-local fc00::/7, documentation and benchmark ranges), shared (100.64.0.0/10), reserved,
site-local, and IPv6 forms that embed such an IPv4 address (mapped ::ffff:0:0/96, NAT64
64:ff9b::/96, 6to4 2002::/16). Names under localhost, .local, .internal and .home.arpa are
refused without a look-up. `WEBHOOK_ALLOW_PRIVATE_NETWORKS` lifts the address rules (an
integration engine on the hospital network); the others hold.

The host is resolved by the system resolver, as the HTTP client would resolve it (2130706433,
0x7f000001 and 127.1 are all 127.0.0.1), and a delivery connects to the address it checked:
the request goes to that IP with the name in the Host header and in TLS (SNI, certificate), so
a second look-up cannot answer differently (DNS rebinding).
"""

import asyncio
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

import httpx

from app.config import Settings
from app.notifications.failures import Failure

IPAddress = IPv4Address | IPv6Address

_NAT64 = IPv6Network("64:ff9b::/96")
# IANA special-purpose blocks that are not globally reachable and that Python 3.11's
# `ipaddress` counts as global (later versions know some of them)
_SPECIAL_PURPOSE = (
    IPv4Network("192.0.0.0/24"),  # IETF protocol assignments
    IPv6Network("64:ff9b:1::/48"),  # local-use NAT64
    IPv6Network("3fff::/20"),  # documentation
)
# RFC 6761 (loopback by definition), RFC 6762 (mDNS), ICANN's private-use TLD, RFC 8375
_LOCAL_SUFFIXES = ("localhost", "local", "internal", "home.arpa")


class Refused(Exception):
    def __init__(self, failure: Failure, reason: str) -> None:
        super().__init__(reason)
        self.failure = failure
        self.reason = reason


@dataclass(frozen=True)
class Policy:
    allow_private: bool = False
    https_only: bool = False
    resolve_timeout_s: float = 10.0

    @classmethod
    def of(cls, settings: Settings) -> "Policy":
        return cls(
            allow_private=settings.webhook_allow_private_networks,
            https_only=settings.environment == "production",
            resolve_timeout_s=settings.webhook_timeout_s,
        )


@dataclass(frozen=True)
class Destination:
    """A checked URL and the address to connect to."""

    url: httpx.URL
    address: IPAddress

    @property
    def connect_url(self) -> httpx.URL:
        return self.url.copy_with(host=str(self.address))

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.url.netloc.decode("ascii")}

    @property
    def extensions(self) -> dict[str, Any]:
        """TLS names (SNI) and verifies the certificate against the host, not the address."""
        if self.url.scheme != "https":
            return {}
        return {"sni_hostname": self.url.raw_host.decode("ascii")}


def not_public(address: IPAddress) -> str | None:
    """The kind of a non-public address ("loopback", "private", ...); None for a public one."""
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = IPv4Address(int(address) & 0xFFFF_FFFF)
        if embedded is not None:
            return not_public(embedded)
        if address.is_site_local:
            return "site-local"
    kinds = {
        "unspecified": address.is_unspecified,
        "loopback": address.is_loopback,
        "link-local": address.is_link_local,
        "multicast": address.is_multicast,
        "private": address.is_private,
        "reserved": address.is_reserved,
        "special-purpose": any(
            address.version == n.version and address in n for n in _SPECIAL_PURPOSE
        ),
        "non-global": not address.is_global,
    }
    return next((kind for kind, hit in kinds.items() if hit), None)


def parse(url: str, policy: Policy) -> httpx.URL:
    """The URL as the HTTP client reads it, refused for what it says (before any look-up)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise Refused(Failure.refused_url, "Not a valid URL.") from None
    if parsed.scheme not in ("http", "https"):
        raise Refused(Failure.refused_url, "Webhook URLs use http or https.")
    if policy.https_only and parsed.scheme != "https":
        raise Refused(Failure.refused_url, "Webhook URLs use https in production.")
    if parsed.userinfo:
        raise Refused(
            Failure.refused_url,
            "Webhook URLs carry no credentials (user:password@): "
            "receivers authenticate deliveries by their signature.",
        )
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    if not host:
        raise Refused(Failure.refused_url, "The URL names no host.")
    local = any(host == s or host.endswith("." + s) for s in _LOCAL_SUFFIXES)
    if local and not policy.allow_private:
        raise Refused(Failure.refused_address, _not_public_reason("local host name"))
    return parsed


async def check(url: str, policy: Policy) -> Destination:
    """The URL and every address its host resolves to now; connect to the one returned."""
    parsed = parse(url, policy)
    addresses = await _resolve(parsed, policy.resolve_timeout_s)
    if not policy.allow_private:
        for address in addresses:
            kind = not_public(address)
            if kind is not None:
                raise Refused(Failure.refused_address, _not_public_reason(f"{kind} address"))
    return Destination(parsed, addresses[0])


async def check_registration(url: str, policy: Policy) -> None:
    """At registration: as at delivery, but with private networks allowed there is no address
    to refuse, so names are not looked up (one that resolves later is fine)."""
    if policy.allow_private:
        parse(url, policy)
    else:
        await check(url, policy)


async def system_resolve(host: str, port: int) -> list[str]:
    """getaddrinfo, as the HTTP client would call it (tests replace this with a table)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def _resolve(url: httpx.URL, timeout_s: float) -> list[IPAddress]:
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout_s):
            found = await system_resolve(url.raw_host.decode("ascii"), port)
        addresses = [ip_address(a) for a in dict.fromkeys(found)]
    except (OSError, TimeoutError, ValueError):
        addresses = []
    if not addresses:
        raise Refused(Failure.dns_error, "The host name does not resolve.")
    return addresses


def _not_public_reason(what: str) -> str:
    return (
        f"The host is or resolves to an address that is not public ({what}): webhooks go to "
        "public addresses only (WEBHOOK_ALLOW_PRIVATE_NETWORKS allows private networks)."
    )
