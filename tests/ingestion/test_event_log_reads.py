"""GET /events: an integration team reads back what became of the events it sent."""

from typing import Any

from httpx import AsyncClient

from tests.audit.test_audit_trail import audit_of
from tests.conftest import ScopedClient
from tests.ingestion.helpers import EVENTS, SOURCE, event, pain, post, procedure

COMPLICATION = {
    "procedure_ref": "OR-7",
    "level": "T7",
    "kind": "cement_leakage",
    "symptomatic": False,
    "sir_classic": "A",
    "onset_at": "2019-02-12T10:00:00Z",
}


async def _items(client: AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(EVENTS, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_what_waits_for_its_procedure_is_listed_until_it_arrives(
    client: AsyncClient,
) -> None:
    score = pain("s1", 6, data={"procedure_ref": "OR-7"})
    waiting = (await post(client, score)).json()
    pending = (await post(client, event("complication.reported", "c1", COMPLICATION))).json()
    assert pending["event_status"] == "pending"

    both = {item["event_id"]: item for item in await _items(client, awaiting_procedure="true")}
    assert sorted(both) == ["c1", "s1"]  # stored unlinked, and kept pending
    awaiting = both["s1"]
    assert awaiting["status"] == "applied"
    assert awaiting["ids"] == waiting["ids"]
    assert awaiting["payload"]["data"]["value"] == 6 and awaiting["type"] == "pain.scored"
    (complication,) = await _items(client, status="pending")
    assert complication["event_id"] == "c1" and complication["ids"] == pending["ids"]

    await post(client, procedure("p1", "OR-7", ["T7"]))
    assert await _items(client, awaiting_procedure="true") == []
    assert await _items(client, status="pending") == []
    (applied,) = await _items(client, source=SOURCE, event_id="c1")
    assert applied["status"] == "applied" and applied["ids"]["complication_id"]
    one = await client.get(f"{EVENTS}/{applied['id']}")
    assert one.status_code == 200 and one.json() == applied


async def test_pages_follow_arrival_and_filters_combine(client: AsyncClient) -> None:
    sent = [pain(f"s{n}", n, at=f"2019-02-{10 + n}T10:00:00Z") for n in range(5)]
    sent.append(pain("other", 1, mrn="MRN-2"))
    assert (await post(client, {"events": sent})).json()["created"] == 6
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "type": "pain.scored"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(EVENTS, params=params)).json()
        seen += [item["event_id"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seen == [e["event_id"] for e in sent]  # one batch: log rows in the batch's order
    mrn2 = next(item for item in await _items(client) if item["event_id"] == "other")
    patient = mrn2["ids"]["patient_id"]
    read = await client.get(EVENTS, params={"patient_id": patient})
    assert [i["event_id"] for i in read.json()["items"]] == ["other"]
    assert [r["patient_id"] for r in await audit_of(client, read)] == [patient]  # audited
    assert await _items(client, source="urn:test:elsewhere") == []


async def test_a_retraction_that_came_first_shows_as_a_placeholder(client: AsyncClient) -> None:
    retraction = event("event.retracted", "x1", {"event_id": "e1", "reason": "wrong MRN"})
    assert (await post(client, retraction)).status_code == 201
    (placeholder,) = await _items(client, event_id="e1")
    assert placeholder["status"] == "retracted" and placeholder["retracted_by"] == "x1"
    assert "type" not in placeholder or placeholder["type"] is None
    assert placeholder.get("payload") is None


async def test_bad_reads_are_specific_and_guarded(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    bad = await client.get(EVENTS, params={"status": "lost"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in bad.json()["errors"]] == ["query.status"]
    missing = await client.get(f"{EVENTS}/0195f3a4-7001-7c1e-9d7b-2f4f5b6c7d90")
    assert missing.status_code == 404
    assert (await client.get(f"{EVENTS}/not-a-uuid")).status_code == 422
    async with scoped_client("cases:read") as reader:
        assert (await reader.get(EVENTS)).status_code == 403
    async with scoped_client("events:write") as integration:
        assert (await integration.get(EVENTS)).status_code == 200
