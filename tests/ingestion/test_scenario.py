"""The scripted integration: paper case 1 as an EHR would send it, out of order, with retries,
concurrent duplicates, a retraction and a FHIR bundle. Exactly the expected records remain."""

import asyncio
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select

from app.db import get_sessionmaker
from app.models import (
    Complication,
    EventLog,
    FollowUpEvent,
    LevelTreated,
    Patient,
    PatientIdentifier,
    Procedure,
)
from tests.ingestion.helpers import MRN, SOURCE, count, event, pain, post, procedure

OR = {"procedure_ref": "OR-1"}


def _stream() -> dict[str, dict[str, Any]]:
    events = {
        "reg": event(
            "patient.registered",
            "reg",
            {"birth_date": "2004-06-01", "sex": "female", "histology": "alveolar rhabdomyosarcoma"},
            at="2018-11-01T09:00:00Z",
        ),
        "proc": procedure(
            "proc",
            "OR-1",
            ["T7", "T12"],
            data={"indication": "pain_palliation", "anesthesia": "general"},
        ),
        "base": pain("base", 7, at="2019-02-05T10:00:00Z"),
        "d7": pain("d7", 5, at="2019-02-19T10:00:00Z", data=OR),
        "wrong": pain("wrong", 9, at="2019-02-26T10:00:00Z", data=OR),  # entered in error
        "d14": pain("d14", 3, at="2019-02-26T11:00:00Z", data=OR),
        "d30": pain("d30", 0, at="2019-03-14T10:00:00Z", data=OR),
        "morphine": event(
            "medication.recorded",
            "morphine",
            {
                "drug": "morphine",
                "dose": 10,
                "dose_unit": "mg",
                "route": "oral",
                "doses_per_day": 6,
            },
            at="2019-02-05T10:00:00Z",
        ),
        "leak": event(
            "complication.reported",
            "leak",
            {
                **OR,
                "level": "T12",
                "kind": "cement_leakage",
                "symptomatic": False,
                "sir_classic": "A",
            },
            at="2019-02-12T10:00:00Z",
        ),
        "died": event(
            "patient.deceased", "died", {"note": "pulmonary metastases"}, at="2019-09-20T03:00:00Z"
        ),
    }
    return events


def _lansky_bundle() -> dict[str, Any]:
    def lansky(value: int, day: str, ident: str) -> dict[str, Any]:
        return {
            "fullUrl": f"urn:uuid:{ident}",
            "resource": {
                "resourceType": "Observation",
                "identifier": [{"system": "urn:test:obs", "value": ident}],
                "status": "final",
                "code": {
                    "coding": [
                        {
                            "system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
                            "code": "C38144",
                        }
                    ]
                },
                "subject": {"identifier": {"system": MRN, "value": "MRN-1"}},
                "partOf": [{"identifier": {"system": SOURCE, "value": "OR-1"}}],
                "effectiveDateTime": f"2019-{day}T10:00:00Z",
                "valueInteger": value,
            },
            "request": {
                "method": "POST",
                "url": "Observation",
                "ifNoneExist": f"identifier=urn:test:obs|{ident}",
            },
        }

    entries = [lansky(70, "02-05", "lansky-1"), lansky(100, "03-14", "lansky-2")]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


async def _scenario(client: AsyncClient) -> str:
    events = _stream()
    # 1. out of order: follow-ups and the complication before the procedure and registration
    early = [events[k] for k in ("d30", "d7", "leak", "morphine", "base", "wrong", "d14")]
    for one in early:
        response = await post(client, one)
        assert response.status_code in (201, 202), response.text
    # 2. concurrent duplicates: the procedure ten times at once, the registration five times
    racing = [events["proc"]] * 10 + [events["reg"]] * 5
    answers = await asyncio.gather(*(post(client, one) for one in racing))
    assert sorted(a.status_code for a in answers) == [200] * 13 + [201] * 2
    # 3. the integration engine resends everything as one batch: all replays
    resent = (await post(client, {"events": list(events.values())[:-1]})).json()
    assert (resent["created"], resent["replayed"], resent["rejected"]) == (0, len(events) - 1, 0)
    # 4. a retraction, and the death last
    assert (
        await post(client, event("event.retracted", "undo", {"event_id": "wrong"}))
    ).status_code == 201
    assert (await post(client, events["died"])).status_code == 201
    # 5. a FHIR transaction bundle, twice (the second changes nothing)
    for expected in ("201 Created", "200 OK"):
        bundle = await client.post(
            "/fhir/r4/Bundle",
            json=_lansky_bundle(),
            headers={"content-type": "application/fhir+json"},
        )
        assert bundle.status_code == 200, bundle.text
        assert {e["response"]["status"] for e in bundle.json()["entry"]} == {expected}
    patients = (await client.get("/api/v1/patients", params={"identifier_value": "MRN-1"})).json()
    patient_id: str = patients["items"][0]["id"]
    return patient_id


async def test_the_scripted_integration_leaves_exactly_the_expected_records(
    client: AsyncClient,
) -> None:
    patient_id = await _scenario(client)

    assert await count(Patient) == 1 and await count(PatientIdentifier) == 1
    assert await count(Procedure) == 1 and await count(LevelTreated) == 2
    assert await count(Complication) == 1
    kinds: dict[str, int] = {}
    async with get_sessionmaker()() as session:
        for kind, n in await session.execute(
            select(FollowUpEvent.kind, func.count()).group_by(FollowUpEvent.kind)
        ):
            kinds[kind] = n
        statuses = dict(
            (
                await session.execute(
                    select(EventLog.status, func.count()).group_by(EventLog.status)
                )
            ).all()
        )
        unlinked = await session.scalar(
            select(func.count())
            .select_from(FollowUpEvent)
            .where(
                FollowUpEvent.kind.in_(("pain", "performance")),
                FollowUpEvent.procedure_id.is_(None),
                FollowUpEvent.occurred_at > select(Procedure.performed_at).scalar_subquery(),
            )
        )
    assert kinds == {"pain": 4, "medication": 1, "performance": 2, "death": 1}
    assert statuses == {"applied": 12, "retracted": 1}  # 10 events, a retraction, 2 FHIR
    assert unlinked == 0

    case = (await client.get(f"/api/v1/cases/{patient_id}")).json()
    assert case["patient"]["histology"] == "alveolar rhabdomyosarcoma"
    assert case["patient"]["death_date"] == "2019-09-20"
    episode = case["episodes"][0]
    assert episode["baseline"] == 7
    assert [p["score"] for p in episode["trajectory"][:3]] == [5, 3, 0]  # days 7, 14, 30
    [complication] = case["procedures"][0]["complications"]
    assert complication["kind"] == "cement_leakage"
    medication = next(e for e in case["timeline"] if e["kind"] == "medication")
    assert medication["ome_mg_day"] == 60
