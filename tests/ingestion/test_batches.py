"""Batches: every event gets its own result; valid ones are stored even when others are not."""

from httpx import AsyncClient

from app.models import EventLog, FollowUpEvent, Patient, Procedure
from tests.ingestion.helpers import count, event, pain, post, procedure


async def test_a_mixed_batch_stores_the_valid_events_and_says_which(client: AsyncClient) -> None:
    await post(client, pain("old", 5))
    batch = {
        "events": [
            procedure("p1", "OR-7", ["T7"]),  # created
            pain("e1", 11),  # rejected: out of range
            pain("old", 5),  # replayed
            pain("old", 6),  # rejected: conflict
            pain("e2", 4, at="2019-02-27T10:00:00Z", data={"procedure_ref": "OR-7"}),  # created
            {"type": "pain.scored"},  # rejected: invalid
        ]
    }
    response = await post(client, batch)
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["replayed"], body["rejected"]) == (2, 1, 3)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == [
        "created", "rejected", "replayed", "rejected", "created", "rejected",
    ]  # fmt: skip
    assert results[1]["problem"]["type"].endswith("score-out-of-range")
    assert results[1]["problem"]["errors"][0]["field"] == "data.value"
    assert results[3]["problem"]["status"] == 409
    assert results[5]["problem"]["status"] == 422 and "event_id" not in results[5]
    assert results[4]["ids"]["procedure_id"] == results[0]["ids"]["procedure_id"]
    assert await count(EventLog) == 3
    assert await count(FollowUpEvent) == 2
    assert await count(Procedure) == 1


async def test_a_batch_that_is_all_valid_is_all_created(client: AsyncClient) -> None:
    events = [
        pain(f"e{i}", i % 11, at=f"2019-03-{1 + i % 28:02d}T10:00:00Z", mrn=f"M{i % 7}")
        for i in range(300)
    ]
    body = (await post(client, {"events": events})).json()
    assert (body["created"], body["replayed"], body["rejected"]) == (300, 0, 0)
    assert await count(FollowUpEvent) == 300 and await count(Patient) == 7
    again = (await post(client, {"events": events})).json()
    assert (again["created"], again["replayed"], again["rejected"]) == (0, 300, 0)
    assert [r["ids"] for r in again["results"]] == [r["ids"] for r in body["results"]]


async def test_a_batch_of_a_thousand(client: AsyncClient) -> None:
    events = [
        pain(f"e{i}", i % 11, mrn=f"M{i % 50}", at=f"2019-04-{1 + i % 28:02d}T10:00:00Z")
        for i in range(1000)
    ]
    body = (await post(client, {"events": events})).json()
    assert body["created"] == 1000
    assert await count(EventLog) == 1000


async def test_the_same_event_twice_in_one_batch(client: AsyncClient) -> None:
    body = (await post(client, {"events": [pain("e1", 5), pain("e1", 5), pain("e1", 6)]})).json()
    assert [r["status"] for r in body["results"]] == ["created", "replayed", "rejected"]
    assert body["results"][1]["ids"] == body["results"][0]["ids"]
    assert body["results"][2]["problem"]["status"] == 409
    assert await count(FollowUpEvent) == 1


async def test_a_refused_event_does_not_undo_the_events_before_it(client: AsyncClient) -> None:
    events = [
        event("patient.registered", "r1", {"birth_date": "2005-03-14", "sex": "female"}),
        procedure("p1", "OR-1", ["L3"], data={"kind": "kyphoplasty"}),
        pain("e1", 3, at="2001-01-01T00:00:00Z"),  # before birth: refused
        event("patient.deceased", "d1", at="2019-09-20T03:00:00Z"),
        pain("e2", 3, at="2019-10-01T00:00:00Z"),  # after death: refused
    ]
    body = (await post(client, {"events": events})).json()
    assert [r["status"] for r in body["results"]] == [
        "created", "created", "rejected", "created", "rejected",
    ]  # fmt: skip
    patient_id = body["results"][0]["ids"]["patient_id"]
    patient = (await client.get(f"/api/v1/patients/{patient_id}")).json()
    assert (patient["birth_date"], patient["death_date"]) == ("2005-03-14", "2019-09-20")
    assert await count(Procedure) == 1 and await count(FollowUpEvent) == 1  # the death


async def test_openapi_documents_batches(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/events"]["post"]
    assert {"200", "201", "202", "409", "413", "415", "422"} <= set(operation["responses"])
    assert {"ApiKey": ["events:write"]} in operation["security"]
    schemas = spec["components"]["schemas"]
    assert {"BatchResult", "EventResult", "EventBatch", "PainScored"} <= set(schemas)
    assert schemas["BatchResult"]["examples"][0]["rejected"] == 1
    request = operation["requestBody"]["content"]["application/json"]
    assert set(request["examples"]) == {"one event", "a batch"}
    assert "per-event" in operation["responses"]["200"]["description"]
