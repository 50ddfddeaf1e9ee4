"""Webhook URLs (server-side request forgery): by default a subscription may only name a host
that is, and resolves to, public addresses; never credentials; https only in production.

Nothing here connects anywhere: URLs are refused (or accepted) without a request, IP literals
resolve without DNS, and names resolve through a table (`names`).
"""

import socket
from collections.abc import Callable
from typing import Any

import pytest
from httpx import AsyncClient, Response

from app.config import get_settings

EVENTS = ["imaging_trigger.opened"]
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

NOT_PUBLIC = [
    "http://127.0.0.1:8080/hooks",
    "http://localhost/hooks",
    "http://LocalHost./hooks",
    "http://hooks.localhost/",
    "http://[::1]/hooks",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "http://2130706433/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://012.0.0.1/",  # octal 10.0.0.1
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[fec0::1]/",  # site-local (deprecated, still not public)
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://printer.local/",
    "https://127.0.0.1/",
]


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default policy (the suite allows private networks for its loopback receivers)."""
    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", False)


Names = Callable[[dict[str, list[str]]], list[str]]


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> Names:
    """Resolve host names from a table (anything else does not resolve); returns the log."""
    asked: list[str] = []

    def install(table: dict[str, list[str]]) -> list[str]:
        async def resolve(host: str, port: int) -> list[str]:
            asked.append(host)
            if host not in table:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return table[host]

        monkeypatch.setattr("app.notifications.destinations.system_resolve", resolve)
        return asked

    return install


async def post(client: AsyncClient, url: str, **extra: Any) -> Response:
    return await client.post("/api/v1/subscriptions", json={"url": url, "events": EVENTS, **extra})


def refused_by_url(response: Response) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in problem["errors"]] == ["url"]


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize("url", NOT_PUBLIC)
async def test_every_spelling_of_a_non_public_host_is_refused(
    client: AsyncClient, url: str
) -> None:
    refused_by_url(await post(client, url))
    assert (await client.get("/api/v1/subscriptions")).json()["items"] == []


@pytest.mark.usefixtures("strict")
async def test_public_addresses_are_accepted(client: AsyncClient) -> None:
    for url in (f"https://{PUBLIC_V4}/hooks", f"https://[{PUBLIC_V6}]:8443/hooks"):
        response = await post(client, url)
        assert response.status_code == 201, response.text
        assert response.json()["url"] == url


@pytest.mark.usefixtures("strict")
async def test_a_url_cannot_be_changed_to_a_non_public_host(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await post(client, f"https://{PUBLIC_V4}/hooks")
    assert created.status_code == 201, created.text
    path = f"/api/v1/subscriptions/{created.json()['id']}"
    for url in ("http://127.0.0.1:5432/", "http://[::ffff:10.0.0.1]:22/"):
        refused_by_url(await client.patch(path, json={"url": url}, headers={"If-Match": '"1"'}))
    assert (await client.get(path)).json()["url"] == f"https://{PUBLIC_V4}/hooks"


@pytest.mark.usefixtures("strict")
async def test_names_are_refused_when_any_address_they_resolve_to_is_not_public(
    client: AsyncClient, names: Names
) -> None:
    asked = names(
        {
            "intranet.example.org": ["127.0.0.1"],
            "mixed.example.org": [PUBLIC_V4, "10.1.2.3"],
            "mapped.example.org": ["::ffff:192.168.1.1"],
            "ris.example.org": [PUBLIC_V4, PUBLIC_V6],
        }
    )
    for host in ("intranet.example.org", "mixed.example.org", "mapped.example.org"):
        refused_by_url(await post(client, f"https://{host}/hooks"))
    # a name that does not resolve cannot be checked: refused, with the reason
    unknown = await post(client, "https://nowhere.example.org/hooks")
    refused_by_url(unknown)
    assert "resolve" in unknown.json()["errors"][0]["message"]
    assert (await post(client, "https://ris.example.org/hooks")).status_code == 201
    assert "ris.example.org" in asked


async def test_private_networks_allowed_by_the_setting(client: AsyncClient, names: Names) -> None:
    asked = names({})
    for url in ("http://10.0.0.1/hooks", "http://127.0.0.1:9000/", "https://engine.hospital.lan/"):
        assert (await post(client, url)).status_code == 201
    assert asked == []  # nothing to refuse by address: names are looked up at delivery


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:secret-password@{PUBLIC_V4}/hooks",
        f"https://user@{PUBLIC_V4}/hooks",
        f"https://:secret-password@{PUBLIC_V4}/hooks",
        "http://user:secret-password@127.0.0.1/hooks",
    ],
)
async def test_credentials_in_urls_are_refused(client: AsyncClient, url: str) -> None:
    response = await post(client, url)
    refused_by_url(response)
    assert "secret-password" not in response.text


async def test_https_only_in_production(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "environment", "production")
    refused_by_url(await post(client, f"http://{PUBLIC_V4}/hooks"))
    assert (await post(client, f"https://{PUBLIC_V4}/hooks")).status_code == 201
