"""GET /metrics after real requests through the app: its scope, every listed series moving
with the right labels, and no identifier anywhere in the exposition."""

import re

from httpx import AsyncClient

from app.db import get_engine, get_sessionmaker
from app.seeding import load_all
from tests.conftest import ScopedClient
from tests.ingestion.helpers import event, post
from tests.notifications.receiver import Receiver
from tests.notifications.test_delivery import subscribe, trigger_worker, worker_settings
from tests.observability.exposition import label_values, samples, scrape, value
from tests.triggers.helpers import procedure_with_pain, sweep

UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
CASE = "/api/v1/cases/{patient_id}"


async def test_the_scope_guards_the_scrape(
    anonymous_client: AsyncClient, scoped_client: ScopedClient
) -> None:
    assert (await anonymous_client.get("/metrics")).status_code == 401
    async with scoped_client("cases:write", "stats:research", "events:write") as other:
        assert (await other.get("/metrics")).status_code == 403
    async with scoped_client("metrics:read") as reader:
        assert "vertebro_http_requests_total" in await scrape(reader)
    async with scoped_client("admin") as admin:  # admin implies no other scope
        assert (await admin.get("/metrics")).status_code == 403


async def test_requests_by_route_template_and_status(client: AsyncClient) -> None:
    before = await scrape(client)
    patient = (await client.post("/api/v1/patients", json=_patient())).json()
    for _ in range(2):
        assert (await client.get(f"/api/v1/cases/{patient['id']}")).status_code == 200
    assert (await client.get("/api/v1/no/such/route/MRN-404")).status_code == 404
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"method": "GET", "route": CASE, "status": "200"}
    assert delta("vertebro_http_requests_total", **ok) == 2
    assert delta("vertebro_http_request_duration_seconds_count", **ok) == 2
    assert delta("vertebro_http_request_duration_seconds_bucket", **ok, le="+Inf") == 2
    created = {"method": "POST", "route": "/api/v1/patients", "status": "201"}
    assert delta("vertebro_http_requests_total", **created) == 1
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert delta("vertebro_http_requests_total", **unmatched) == 1
    assert patient["id"] not in after and "MRN-404" not in after
    # reading a case writes its audit rows
    assert delta("vertebro_audit_rows_written_total") >= 2


async def test_events_by_type_and_outcome(client: AsyncClient) -> None:
    before = await scrape(client)
    registered = event(
        "patient.registered", "evt-m1", {"birth_date": "2005-03-14", "sex": "female"}
    )
    assert (await post(client, registered)).status_code in (200, 201)
    replay = await post(client, {"events": [registered, event("no.such.type", "evt-m2", {})]})
    assert replay.status_code == 200, replay.text
    assert [r["status"] for r in replay.json()["results"]] == ["replayed", "rejected"]
    after = await scrape(client)
    name = "vertebro_events_ingested_total"
    for kind, outcome in (
        ("patient.registered", "created"),
        ("patient.registered", "replayed"),
        ("other", "rejected"),  # a type outside the closed list is never a label
    ):
        moved = value(after, name, type=kind, outcome=outcome)
        assert moved - value(before, name, type=kind, outcome=outcome) == 1, (kind, outcome)
    assert "no.such.type" not in after and "MRN-1" not in after


async def test_triggers_outbox_webhook_failures_and_sweep(client: AsyncClient) -> None:
    receiver = await Receiver(status=500).start()
    try:
        before = await scrape(client)
        await subscribe(client, receiver.url)
        await procedure_with_pain(client, [(-3, 7)])  # day 14 passed without a score
        assert (await sweep()).fired == 1
        queued = await scrape(client)
        assert value(queued, "vertebro_outbox_backlog") == 1
        assert value(queued, "vertebro_outbox_oldest_pending_age_seconds") > 0
        assert value(queued, "vertebro_triggers_open", rule="follow_up_overdue") == 1
        assert value(queued, "vertebro_triggers_open", rule="worsening") == 0
        opened = "vertebro_triggers_opened_total"
        rule = {"rule": "follow_up_overdue"}
        assert value(queued, opened, **rule) - value(before, opened, **rule) == 1
        swept = "vertebro_trigger_sweep_duration_seconds_count"
        assert value(queued, swept) - value(before, swept) == 1

        assert await trigger_worker(worker_settings()).run_once() == 1
        after = await scrape(client)
        failed = {"failure": "http-5xx", "outcome": "retry"}
        name = "vertebro_webhook_delivery_failures_total"
        assert value(after, name, **failed) - value(before, name, **failed) == 1
        assert value(after, "vertebro_outbox_backlog") == 1  # still pending, to be retried
    finally:
        await receiver.stop()


async def test_database_pool_in_use_where_the_pool_counts(client: AsyncClient) -> None:
    text = await scrape(client)
    present = ("vertebro_db_pool_connections_in_use", frozenset()) in samples(text)
    assert present == callable(getattr(get_engine().pool, "checkedout", None))
    if present:  # the scrape reads the pool before taking its own connection
        assert value(text, "vertebro_db_pool_connections_in_use") >= 0


async def test_no_identifier_in_any_label(client: AsyncClient) -> None:
    assert set((await load_all(get_sessionmaker())).values()) == {True}
    listed = (await client.get("/api/v1/cases")).json()["items"]
    ids = [c["patient_id"] for c in listed]
    secrets: set[str] = set(ids)
    for patient_id in ids:
        case = (await client.get(f"/api/v1/cases/{patient_id}")).json()
        secrets |= {i["value"] for i in case["patient"]["identifiers"]}
        for procedure in case.get("procedures", []):
            await client.get(f"/api/v1/procedures/{procedure['id']}")
            secrets.add(procedure["id"])
        await client.get("/api/v1/patients", params={"identifier": f"urn:x|{patient_id}"})
    assert len(ids) == 3 and any(s.startswith("paper-case-") for s in secrets)
    text = await scrape(client)
    assert not [s for s in secrets if s in text]
    labels = label_values(text)
    assert not [v for v in labels if UUID.search(v)]
    assert CASE in labels


def _patient() -> dict[str, object]:
    return {"birth_date": "2005-03-14", "sex": "female", "histology": "Wilms tumour"}
