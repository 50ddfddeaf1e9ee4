"""The destination policy alone: address classes, spellings of an address through the system
resolver (numeric hosts only: no DNS query), and what a checked destination connects to."""

from ipaddress import IPv4Address, IPv4Network, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.notifications.destinations import Policy, Refused, check, not_public
from app.notifications.failures import Failure

STRICT = Policy()
PUBLIC = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

NON_PUBLIC_V4 = [
    IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("10.0.0.1", "private"),
        ("fd00::1", "private"),
        ("224.0.0.251", "multicast"),
        ("ff05::1", "multicast"),
        ("100.64.0.1", "non-global"),
        ("fec0::1", "site-local"),
        ("192.0.0.8", "special-purpose"),
        ("3fff::1", "special-purpose"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::7f00:1", "loopback"),
        ("2002:c0a8:0101::1", "private"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),  # Teredo
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
        ("2002:808:808::1", None),
    ],
)
def test_address_classes(address: str, kind: str | None) -> None:
    assert not_public(ip_address(address)) == kind


def spellings(address: IPv4Address) -> list[str]:
    """How a URL may write one IPv4 address: inet_aton's forms, and IPv6 embeddings."""
    a, b, c, d = address.packed
    n = int(address)
    return [
        str(address),
        str(n),
        hex(n),
        f"{a}.{b}.{(c << 8) + d}",
        f"{a}.{(b << 16) + (c << 8) + d}",
        f"{hex(a)}.{b}.{c}.{d}",
        f"[::ffff:{address}]",
        f"[::ffff:{n >> 16:x}:{n & 0xFFFF:x}]",
        f"[64:ff9b::{address}]",
    ]


@given(
    network=st.sampled_from(NON_PUBLIC_V4),
    offset=st.integers(min_value=0, max_value=2**32 - 1),
    port=st.sampled_from(["", ":8080"]),
    scheme=st.sampled_from(["http", "https"]),
)
async def test_no_spelling_of_a_non_public_address_passes(
    network: IPv4Network, offset: int, port: str, scheme: str
) -> None:
    address = network[offset % network.num_addresses]
    for host in spellings(address):
        with pytest.raises(Refused) as refused:
            await check(f"{scheme}://{host}{port}/hooks", STRICT)
        assert refused.value.failure == Failure.refused_address, host


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "a.b.localhost", "nas.local", "metadata.google.internal"]
)
async def test_local_names_are_refused_without_a_look_up(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_look_up(host: str, port: int) -> list[str]:
        raise AssertionError(f"looked up {host}")

    monkeypatch.setattr("app.notifications.destinations.system_resolve", no_look_up)
    with pytest.raises(Refused) as refused:
        await check(f"https://{host}/", STRICT)
    assert refused.value.failure == Failure.refused_address


async def test_a_checked_destination_connects_to_its_address_under_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return [PUBLIC, PUBLIC, PUBLIC_V6]

    monkeypatch.setattr("app.notifications.destinations.system_resolve", resolve)
    to = await check("https://bücher.example:8443/hooks?x=1", STRICT)
    assert asked == [("xn--bcher-kva.example", 8443)]
    assert str(to.connect_url) == f"https://{PUBLIC}:8443/hooks?x=1"
    assert to.headers == {"Host": "xn--bcher-kva.example:8443"}
    assert to.extensions == {"sni_hostname": "xn--bcher-kva.example"}
    plain = await check("http://hooks.example/", STRICT)
    assert (plain.headers, plain.extensions) == ({"Host": "hooks.example"}, {})


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        (f"https://user:pw@{PUBLIC}/", Policy(allow_private=True)),
        (f"http://{PUBLIC}/", Policy(https_only=True)),
        (f"ftp://{PUBLIC}/", STRICT),
        ("http://0177.0.0.1/", STRICT),  # the HTTP client does not read it; nor does the check
    ],
)
async def test_urls_refused_for_what_they_say(url: str, policy: Policy) -> None:
    with pytest.raises(Refused) as refused:
        await check(url, policy)
    assert refused.value.failure == Failure.refused_url
