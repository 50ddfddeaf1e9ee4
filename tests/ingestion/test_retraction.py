"""event.retracted: undoes what an earlier event of the same source did."""

from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from app.db import get_sessionmaker
from app.models import Complication, EventLog, FollowUpEvent, LevelTreated, Procedure
from tests.ingestion.helpers import count, event, pain, post, procedure


def retract(event_id: str, target: str, **kw: Any) -> dict[str, Any]:
    return event(
        "event.retracted", event_id, {"event_id": target, "reason": "entered in error"}, **kw
    )


async def _row(event_id: str) -> EventLog:
    async with get_sessionmaker()() as session:
        row = await session.scalar(select(EventLog).where(EventLog.event_id == event_id))
        assert row is not None
        return row


async def test_retracting_a_pain_score_deletes_it(client: AsyncClient) -> None:
    created = (await post(client, pain("e1", 5))).json()
    response = await post(client, retract("x1", "e1"))
    assert response.status_code == 201, response.text
    assert response.json()["ids"]["retracted_event_id"] == "e1"
    assert await count(FollowUpEvent) == 0
    gone = await client.get(f"/api/v1/follow-ups/{created['ids']['follow_up_id']}")
    assert gone.status_code == 404
    row = await _row("e1")
    assert (row.status, row.retracted_by) == ("retracted", "x1")
    assert row.payload is not None  # the log keeps the event
    replay = await post(client, pain("e1", 5))
    assert replay.status_code == 200 and replay.json()["event_status"] == "retracted"
    assert await count(FollowUpEvent) == 0
    again = await post(client, retract("x1", "e1"))
    assert again.status_code == 200 and again.json()["status"] == "replayed"


async def test_retracting_a_procedure_puts_what_referred_to_it_back_to_waiting(
    client: AsyncClient,
) -> None:
    await post(client, procedure("p1", "OR-7", ["T7", "T12"]))
    linked = (await post(client, pain("e1", 4, data={"procedure_ref": "OR-7"}))).json()
    complication = {
        "procedure_ref": "OR-7",
        "level": "T7",
        "kind": "pain_flare",
        "symptomatic": True,
    }
    await post(
        client, event("complication.reported", "c1", complication, at="2019-02-13T08:00:00Z")
    )
    assert await count(Complication) == 1

    assert (await post(client, retract("x1", "p1"))).status_code == 201
    assert await count(Procedure) == 0 and await count(LevelTreated) == 0
    assert await count(Complication) == 0
    follow_up = (await client.get(f"/api/v1/follow-ups/{linked['ids']['follow_up_id']}")).json()
    assert follow_up["procedure_id"] is None
    assert (await _row("e1")).awaiting_procedure
    assert (await _row("c1")).status == "pending"

    # the corrected procedure, same reference, new event id: everything attaches to it
    fixed = (await post(client, procedure("p2", "OR-7", ["T7", "T11"]))).json()
    follow_up = (await client.get(f"/api/v1/follow-ups/{linked['ids']['follow_up_id']}")).json()
    assert follow_up["procedure_id"] == fixed["ids"]["procedure_id"]
    assert (await _row("c1")).status == "applied"
    assert await count(Complication) == 1


async def test_retracting_a_death(client: AsyncClient) -> None:
    died = (await post(client, event("patient.deceased", "d1", at="2019-09-20T03:00:00Z"))).json()
    patient_url = f"/api/v1/patients/{died['ids']['patient_id']}"
    assert (await client.get(patient_url)).json()["death_date"] == "2019-09-20"
    await post(client, retract("x1", "d1"))
    assert (await client.get(patient_url)).json()["death_date"] is None
    assert (await post(client, pain("e1", 2, at="2019-10-01T10:00:00Z"))).status_code == 201


async def test_what_cannot_be_retracted(client: AsyncClient) -> None:
    await post(client, event("patient.registered", "r1", {"sex": "female"}))
    await post(client, pain("e1", 5))
    await post(client, pain("e2", 5, mrn="SOMEONE-ELSE"))
    await post(client, retract("x1", "e1"))
    for target, code in (
        ("r1", "not-retractable"),
        ("x1", "not-retractable"),
        ("e2", "patient-mismatch"),
        ("y1", "self-retraction"),
    ):
        response = await post(client, retract("y1", target))
        assert response.status_code == 422, target
        assert response.json()["type"].endswith(code)
        assert response.json()["errors"][0]["field"] in ("data.event_id", "patient")
    assert await count(FollowUpEvent) == 1  # e2


async def test_retraction_and_its_event_in_one_batch_in_either_order(client: AsyncClient) -> None:
    events = [pain("e1", 5), retract("x1", "e1"), retract("x2", "e2"), pain("e2", 6)]
    body = (await post(client, {"events": events})).json()
    assert [r["status"] for r in body["results"]] == ["created"] * 4
    assert [r.get("event_status") for r in body["results"]] == [
        "retracted", "applied", "applied", "retracted",
    ]  # fmt: skip
    assert await count(FollowUpEvent) == 0
    assert (await _row("e1")).retracted_by == "x1"
    assert (await _row("e2")).retracted_by == "x2"


async def test_a_refused_event_retracted_in_the_same_batch_stays_retracted(
    client: AsyncClient,
) -> None:
    body = (await post(client, {"events": [pain("e1", 11), retract("x1", "e1")]})).json()
    assert [r["status"] for r in body["results"]] == ["rejected", "created"]
    fixed = await post(client, pain("e1", 5))  # the same event, corrected, sent again
    assert fixed.status_code == 201 and fixed.json()["event_status"] == "retracted"
    assert await count(FollowUpEvent) == 0
