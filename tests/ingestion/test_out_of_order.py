"""Out-of-order arrival: what refers to something not seen yet is kept and linked when it
comes; derived values follow occurred_at, never the order of arrival."""

import random
import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from app.db import get_sessionmaker
from app.models import Complication, EventLog, FollowUpEvent
from tests.ingestion.helpers import count, event, pain, post, procedure


async def _follow_up(client: AsyncClient, follow_up_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/follow-ups/{follow_up_id}")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def _awaiting(event_id: str) -> bool:
    async with get_sessionmaker()() as session:
        row = await session.scalar(select(EventLog).where(EventLog.event_id == event_id))
        assert row is not None
        return row.awaiting_procedure


async def test_a_follow_up_is_linked_when_its_procedure_arrives(client: AsyncClient) -> None:
    early = (await post(client, pain("e1", 5, data={"procedure_ref": "OR-7"}))).json()
    follow_up_id = early["ids"]["follow_up_id"]
    assert early["event_status"] == "applied" and "procedure_id" not in early["ids"]
    assert (await _follow_up(client, follow_up_id))["procedure_id"] is None
    assert await _awaiting("e1")

    arrived = (await post(client, procedure("p1", "OR-7", ["T7"]))).json()
    linked = await _follow_up(client, follow_up_id)
    assert linked["procedure_id"] == arrived["ids"]["procedure_id"]
    assert linked["version"] == 2  # the link is a change of the row
    assert not await _awaiting("e1")
    replay = (await post(client, pain("e1", 5, data={"procedure_ref": "OR-7"}))).json()
    assert replay["ids"]["procedure_id"] == arrived["ids"]["procedure_id"]


async def test_a_procedure_of_another_patient_is_not_linked(client: AsyncClient) -> None:
    early = (await post(client, pain("e1", 5, data={"procedure_ref": "OR-7"}, mrn="A"))).json()
    await post(client, procedure("p1", "OR-7", ["T7"], mrn="B"))
    assert (await _follow_up(client, early["ids"]["follow_up_id"]))["procedure_id"] is None
    assert await _awaiting("e1")


async def test_a_complication_waits_for_its_procedure(client: AsyncClient) -> None:
    data = {"procedure_ref": "OR-7", "level": "T7", "kind": "pain_flare", "symptomatic": True}
    waiting = await post(
        client, event("complication.reported", "c1", data, at="2019-02-13T08:00:00Z")
    )
    assert waiting.status_code == 202
    assert waiting.json()["event_status"] == "pending"
    assert await count(Complication) == 0

    arrived = (await post(client, procedure("p1", "OR-7", ["T7"]))).json()
    async with get_sessionmaker()() as session:
        complication = await session.scalar(select(Complication))
        assert complication is not None
        assert str(complication.procedure_id) == arrived["ids"]["procedure_id"]
        assert str(complication.level_id) == arrived["ids"]["level_ids"][0]
    replay = await post(
        client, event("complication.reported", "c1", data, at="2019-02-13T08:00:00Z")
    )
    assert replay.status_code == 200
    assert replay.json()["event_status"] == "applied"
    assert replay.json()["ids"]["complication_id"] == str(complication.id)


async def test_a_waiting_complication_that_does_not_fit_its_procedure_fails_alone(
    client: AsyncClient,
) -> None:
    data = {"procedure_ref": "OR-7", "level": "L3", "kind": "hematoma", "symptomatic": True}
    await post(client, event("complication.reported", "c1", data))
    arrived = await post(client, procedure("p1", "OR-7", ["T7"]))
    assert arrived.status_code == 201  # the procedure itself is fine
    replay = (await post(client, event("complication.reported", "c1", data))).json()
    assert replay["event_status"] == "failed"
    assert replay["problem"]["type"].endswith("level-not-in-procedure")
    assert replay["problem"]["errors"][0]["field"] == "data.level"
    assert await count(Complication) == 0


async def test_a_retraction_may_arrive_before_the_event_it_retracts(client: AsyncClient) -> None:
    first = await post(
        client, event("event.retracted", "x1", {"event_id": "e1", "reason": "wrong MRN"})
    )
    assert first.status_code == 201
    assert first.json()["ids"] == {"retracted_event_id": "e1"}
    late = await post(client, pain("e1", 5))
    assert late.status_code == 201
    assert late.json()["event_status"] == "retracted"
    assert await count(FollowUpEvent) == 0
    again = await post(client, pain("e1", 5))
    assert again.status_code == 200 and again.json()["event_status"] == "retracted"
    conflict = await post(client, pain("e1", 6))
    assert conflict.status_code == 409


async def test_a_registration_after_the_events_is_checked_against_them(client: AsyncClient) -> None:
    await post(client, pain("e1", 5, at="2010-06-01T10:00:00Z"))
    late = await post(client, event("patient.registered", "r1", {"birth_date": "2012-01-01"}))
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "data.birth_date"
    fine = await post(client, event("patient.registered", "r2", {"birth_date": "2005-01-01"}))
    assert fine.status_code == 201


def _stream(mrn: str) -> list[dict[str, Any]]:
    """One episode: a baseline, the procedure, scores around days 7 and 14, 30, 90."""
    scores = [
        ("2019-02-05T10:00:00Z", 7),
        ("2019-02-19T10:00:00Z", 5),
        ("2019-02-26T10:00:00Z", 2),
        ("2019-03-14T10:00:00Z", 0),
        ("2019-05-13T10:00:00Z", 6),
    ]
    events = [
        event("patient.registered", "r", {"birth_date": "2005-03-14", "sex": "female"}, mrn=mrn),
        procedure("p", "OR-7", ["T7", "T12"], mrn=mrn),
    ]
    events += [
        pain(f"s{i}", value, at=at, mrn=mrn, data={"procedure_ref": "OR-7"})
        for i, (at, value) in enumerate(scores)
    ]
    return [{**e, "source": f"urn:test:{mrn}"} for e in events]


def _without_ids(case: dict[str, Any]) -> Any:
    volatile = {
        "id", "key", "patient_id", "procedure_id", "procedure_ids", "ended_by", "level_id",
        "created_at", "updated_at", "version", "identifiers", "t0_procedure_id", "episode_key",
        "event_id", "at", "checked_at", "history",
    }  # fmt: skip

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in volatile}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(case)


async def test_the_case_is_the_same_whatever_the_order_of_arrival(client: AsyncClient) -> None:
    in_order = _stream("ORDERED")
    shuffled = _stream("SHUFFLED")
    random.Random(4).shuffle(shuffled)
    for one in in_order:
        assert (await post(client, one)).status_code == 201
    for one in shuffled:
        assert (await post(client, one)).status_code == 201
    cases = []
    for mrn in ("ORDERED", "SHUFFLED"):
        found = (await client.get("/api/v1/patients", params={"identifier_value": mrn})).json()
        case = (await client.get(f"/api/v1/cases/{found['items'][0]['id']}")).json()
        cases.append(case)
    assert cases[0]["episodes"][0]["baseline"] == 7
    assert [p["score"] for p in cases[0]["episodes"][0]["trajectory"][:3]] == [5, 2, 0]
    assert [t["rule"] for t in cases[0]["imaging_triggers"]] == ["worsening"]  # 0 -> 6
    assert _without_ids(cases[0]) == _without_ids(cases[1])
    assert all(e["procedure_id"] for e in cases[1]["timeline"])  # all linked in the end
    uuid.UUID(cases[1]["procedures"][0]["id"])
