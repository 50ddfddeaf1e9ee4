"""Each delivery checks its destination again and connects to the address it checked (DNS
rebinding); the delivery log keeps the status, the timing and an error class, never a body.

Real receivers on loopback; host names resolve through a table (`Names`), never through DNS.
"""

import asyncio
import ssl
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from httpx import AsyncClient
from sqlalchemy import select, update

from app.config import get_settings
from app.db import get_sessionmaker
from app.models import DeliveryAttempt, OutboxMessage, WebhookSubscription
from app.models.base import utcnow
from app.notifications import signing
from app.notifications.worker import Worker
from tests.notifications.receiver import Receiver
from tests.notifications.test_delivery import (
    SECRET,
    open_triggers,
    subscribe,
    trigger_worker,
    worker_settings,
)

PUBLIC = "93.184.215.14"
LEAK = "db-password=hunter2"  # what an internal service would answer


class Names:
    """A resolver answering from a table that may change between look-ups."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **table: list[str]) -> None:
        self.table = {name.replace("_", "."): addresses for name, addresses in table.items()}
        self.asked: list[str] = []
        monkeypatch.setattr("app.notifications.destinations.system_resolve", self)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.table[host]


def strict(monkeypatch: pytest.MonkeyPatch) -> Worker:
    """The default policy, for the API and for a worker."""
    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", False)
    return trigger_worker(worker_settings(webhook_allow_private_networks=False))


async def deliveries(client: AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/webhook-deliveries")
    assert response.status_code == 200 and LEAK not in response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def attempts(delivery: dict[str, Any]) -> list[tuple[int | None, str | None, str]]:
    return [(a["status_code"], a["error"], a["outcome"]) for a in delivery["log"]]


async def test_a_name_rebound_to_loopback_after_registration_is_not_connected_to(
    client: AsyncClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = strict(monkeypatch)
    names = Names(monkeypatch, hooks_partner_example=[PUBLIC])
    await subscribe(client, f"http://hooks.partner.example:{receiver.port}/hooks")
    await open_triggers(client, 1)
    names.table["hooks.partner.example"] = ["127.0.0.1"]  # the name's owner answers anew
    assert await worker.run_once() == 1
    assert receiver.connections == 0
    (delivery,) = await deliveries(client)
    assert (delivery["last_status_code"], delivery["last_error"]) == (None, "refused-address")
    assert attempts(delivery) == [(None, "refused-address", "retry")]
    assert delivery["log"][0]["duration_ms"] >= 0


async def test_the_worker_connects_to_the_address_it_checked(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is looked up once, by the registry: the HTTP client is given the address."""
    receiver = await Receiver(host="127.0.0.2").start()
    try:
        names = Names(monkeypatch, engine_hospital_example=["127.0.0.2"])
        await subscribe(client, f"http://engine.hospital.example:{receiver.port}/hooks")
        await open_triggers(client, 1)
        assert await trigger_worker(worker_settings()).run_once() == 1
    finally:
        await receiver.stop()
    (got,) = receiver.requests
    assert got.headers["host"] == f"engine.hospital.example:{receiver.port}"
    assert signing.verify(SECRET, got.headers["x-vertebro-signature"], got.body)
    assert names.asked == ["engine.hospital.example"]
    (delivery,) = await deliveries(client)
    assert attempts(delivery) == [(200, None, "delivered")]


def certificate_for(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate naming `name`: the server's context, and one trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "cert.pem").write_bytes(pem)
        (Path(directory) / "key.pem").write_bytes(key_pem)
        server.load_cert_chain(Path(directory) / "cert.pem", Path(directory) / "key.pem")
    return server, ssl.create_default_context(cadata=pem.decode())


async def test_tls_names_and_verifies_the_host_while_connecting_to_the_address(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, trust = certificate_for("hooks.partner.example")
    indicated: list[str | None] = []

    def note(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        indicated.append(name)

    server.sni_callback = note
    receiver = await Receiver(tls=server).start()
    try:
        Names(monkeypatch, hooks_partner_example=["127.0.0.1"], other_example=["127.0.0.1"])
        for host in ("hooks.partner.example", "other.example"):  # the certificate names one
            await subscribe(client, f"https://{host}:{receiver.port}/hooks")
        await open_triggers(client, 1)
        async with httpx.AsyncClient(verify=trust, timeout=5) as http:
            worker = trigger_worker(worker_settings(), client=http)
            assert await worker.run_once() == 2
    finally:
        await receiver.stop()
    (got,) = receiver.requests
    assert got.headers["host"] == f"hooks.partner.example:{receiver.port}"
    assert set(indicated) == {"hooks.partner.example", "other.example"}
    outcomes = {attempts(d)[0] for d in await deliveries(client)}
    assert outcomes == {(200, None, "delivered"), (None, "connect-error", "retry")}


async def test_a_stored_url_no_longer_allowed_is_refused_at_delivery_and_redelivery(
    client: AsyncClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribe(client, receiver.url)  # registered while private networks were allowed
    await open_triggers(client, 1)
    worker = strict(monkeypatch)
    now = utcnow()
    for hour in range(4):
        await worker.run_once(now + timedelta(hours=hour))
    (delivery,) = await deliveries(client)
    assert delivery["status"] == "dead"
    again = await client.post(f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202
    assert await worker.run_once() == 1
    assert receiver.connections == 0
    (delivery,) = await deliveries(client)
    assert {a["error"] for a in delivery["log"]} == {"refused-address"}
    assert len(delivery["log"]) == 4


async def test_credentials_stored_before_are_neither_shown_nor_sent(
    client: AsyncClient, receiver: Receiver
) -> None:
    subscription = await subscribe(client, receiver.url)
    with_credentials = receiver.url.replace("http://", "http://registry:hunter2@")
    async with get_sessionmaker()() as session, session.begin():
        await session.execute(update(WebhookSubscription).values(url=with_credentials))
    for path in ("/api/v1/subscriptions", f"/api/v1/subscriptions/{subscription['id']}"):
        response = await client.get(path)
        assert response.status_code == 200 and "hunter2" not in response.text
    assert (await client.get(path)).json()["url"] == receiver.url
    await open_triggers(client, 1)
    assert await trigger_worker(worker_settings()).run_once() == 1
    assert receiver.connections == 0
    (delivery,) = await deliveries(client)
    assert attempts(delivery) == [(None, "refused-url", "retry")]


@pytest.mark.parametrize(
    ("status", "error"), [(500, "http-5xx"), (404, "http-4xx"), (302, "http-3xx")]
)
async def test_the_log_keeps_the_status_and_an_error_class_never_the_body(
    client: AsyncClient, receiver: Receiver, status: int, error: str
) -> None:
    receiver.status, receiver.reply = status, LEAK.encode()
    receiver.reply_headers = {"Location": f"http://{PUBLIC}/elsewhere"}
    await subscribe(client, receiver.url)
    await open_triggers(client, 1)
    assert await trigger_worker(worker_settings()).run_once() == 1
    assert len(receiver.requests) == receiver.connections == 1  # no redirect followed
    (delivery,) = await deliveries(client)
    assert (delivery["last_status_code"], delivery["last_error"]) == (status, error)
    assert attempts(delivery) == [(status, error, "retry")]
    async with get_sessionmaker()() as session:
        stored = [
            *(await session.scalars(select(DeliveryAttempt.error))),
            *(await session.scalars(select(OutboxMessage.last_error))),
        ]
    assert stored == [error, error]


async def test_network_failures_are_logged_by_class(
    client: AsyncClient, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url)
    await open_triggers(client, 1)
    await receiver.stop()
    now = utcnow()
    worker = trigger_worker(worker_settings(webhook_timeout_s=0.5))
    await worker.run_once(now)
    receiver.gate = asyncio.Event()  # it answers nothing until the test ends
    await receiver.start()
    await worker.run_once(now + timedelta(hours=1))
    (delivery,) = await deliveries(client)
    assert attempts(delivery) == [(None, "connect-error", "retry"), (None, "timeout", "retry")]


async def test_errors_logged_before_show_only_their_class(
    client: AsyncClient, receiver: Receiver
) -> None:
    """Rows written when the log kept the receiver's answer or the exception's message."""
    receiver.status = 503
    await subscribe(client, receiver.url)
    await open_triggers(client, 1)
    await trigger_worker(worker_settings()).run_once()
    async with get_sessionmaker()() as session, session.begin():
        await session.execute(update(DeliveryAttempt).values(error=f"HTTP 503: {LEAK}"))
        await session.execute(
            update(OutboxMessage).values(last_error=f"ReadTimeout: {LEAK}", last_status_code=None)
        )
    (delivery,) = await deliveries(client)
    assert delivery["last_error"] == "timeout"
    assert attempts(delivery) == [(503, "http-5xx", "retry")]
