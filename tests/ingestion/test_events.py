"""POST /api/v1/events, one event at a time: every type, the event log, replays, conflicts,
and the same validation as the REST API."""

import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from app.db import get_sessionmaker
from app.ingestion.mappers import parse_event
from app.models import Complication, EventLog, FollowUpEvent, Patient, PatientIdentifier, Procedure
from tests.factories import make_patient
from tests.ingestion.helpers import MRN, SOURCE, count, event, pain, post, procedure


async def _log(event_id: str, source: str = SOURCE) -> EventLog:
    async with get_sessionmaker()() as session:
        row = await session.scalar(
            select(EventLog).where(EventLog.source == source, EventLog.event_id == event_id)
        )
        assert row is not None
        return row


async def test_a_pain_score_for_an_unknown_patient_creates_both(client: AsyncClient) -> None:
    response = await post(client, pain("e1", 6, data={"site": "leg", "note": "after PT"}))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "created" and body["event_status"] == "applied"
    assert body["type"] == "pain.scored" and body["event_id"] == "e1"
    follow_up = (await client.get(f"/api/v1/follow-ups/{body['ids']['follow_up_id']}")).json()
    assert follow_up["kind"] == "pain" and follow_up["score"] == 6 and follow_up["site"] == "leg"
    assert follow_up["occurred_at"] == "2019-02-20T10:00:00Z"
    assert follow_up["patient_id"] == body["ids"]["patient_id"]
    patients = (await client.get("/api/v1/patients")).json()["items"]
    assert [p["identifiers"] for p in patients] == [[{"system": MRN, "value": "MRN-1"}]]
    assert patients[0]["sex"] == "unknown" and patients[0]["birth_date"] is None


async def test_the_event_log_keeps_the_raw_payload_its_hash_and_what_it_produced(
    client: AsyncClient,
) -> None:
    raw = pain("e1", 4)
    body = (await post(client, raw)).json()
    row = await _log("e1")
    assert row.payload == raw
    assert row.payload_hash is not None and len(row.payload_hash) == 64
    assert row.type == "pain.scored" and row.status == "applied"
    assert row.result == body["ids"]
    assert str(row.record_id) == body["ids"]["follow_up_id"]
    assert str(row.patient_id) == body["ids"]["patient_id"]
    assert (
        row.occurred_at is not None and row.occurred_at.isoformat() == "2019-02-20T10:00:00+00:00"
    )


async def test_the_same_event_again_is_a_replay_with_the_original_ids(client: AsyncClient) -> None:
    first = await post(client, pain("e1", 5))
    again = await post(client, pain("e1", 5))
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["status"] == "replayed"
    assert again.json()["ids"] == first.json()["ids"]
    assert "Idempotent-Replayed" not in first.headers
    assert await count(EventLog) == 1
    assert await count(FollowUpEvent) == 1


async def test_a_replay_may_differ_in_form_but_not_in_meaning(client: AsyncClient) -> None:
    await post(client, pain("e1", 5))
    reordered: dict[str, Any] = dict(reversed(list(pain("e1", 5.0).items())))
    reordered["occurred_at"] = "2019-02-20T12:00:00+02:00"  # the same instant
    reordered["data"] = {"value": 5, "scale": "nrs11", "site": "back"}  # defaults spelled out
    response = await post(client, reordered)
    assert response.status_code == 200 and response.json()["status"] == "replayed"


async def test_the_same_key_with_another_payload_is_a_conflict_that_changes_nothing(
    client: AsyncClient,
) -> None:
    first = (await post(client, pain("e1", 5))).json()
    response = await post(client, pain("e1", 7))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/event-conflict"
    follow_up = (await client.get(f"/api/v1/follow-ups/{first['ids']['follow_up_id']}")).json()
    assert follow_up["score"] == 5 and follow_up["version"] == 1
    assert await count(EventLog) == 1 and await count(FollowUpEvent) == 1


async def test_event_ids_are_unique_per_source_only(client: AsyncClient) -> None:
    await post(client, pain("e1", 5))
    other = await post(client, pain("e1", 5, source="urn:test:other-ehr"))
    assert other.status_code == 201
    assert await count(FollowUpEvent) == 2


async def test_patient_registered_sets_demographics_and_identifiers(client: AsyncClient) -> None:
    data = {
        "birth_date": "2005-03-14",
        "sex": "female",
        "histology": "alveolar rhabdomyosarcoma",
        "identifiers": [{"system": "urn:test:national", "value": "N-9"}],
    }
    response = await post(client, event("patient.registered", "r1", data))
    assert response.status_code == 201, response.text
    patient = (await client.get(f"/api/v1/patients/{response.json()['ids']['patient_id']}")).json()
    assert patient["birth_date"] == "2005-03-14" and patient["sex"] == "female"
    assert patient["histology"] == "alveolar rhabdomyosarcoma"
    assert sorted(i["value"] for i in patient["identifiers"]) == ["MRN-1", "N-9"]


async def test_a_registration_completes_a_patient_known_from_earlier_events(
    client: AsyncClient,
) -> None:
    first = (await post(client, pain("e1", 5))).json()
    response = await post(client, event("patient.registered", "r1", {"sex": "male"}))
    assert response.json()["ids"]["patient_id"] == first["ids"]["patient_id"]
    assert await count(Patient) == 1
    patient = (await client.get(f"/api/v1/patients/{first['ids']['patient_id']}")).json()
    assert patient["sex"] == "male"


async def test_patient_registered_carries_the_histology_group(client: AsyncClient) -> None:
    data = {"histology": "Wilms tumour", "histology_group": "VI"}
    response = await post(client, event("patient.registered", "r1", data))
    assert response.status_code == 201, response.text
    url = f"/api/v1/patients/{response.json()['ids']['patient_id']}"
    patient = (await client.get(url)).json()
    assert patient["histology_group"] == "VI" and patient["histology"] == "Wilms tumour"
    await post(client, event("patient.registered", "r2", {"histology_group": "IX"}))
    assert (await client.get(url)).json()["histology_group"] == "IX"
    await post(client, event("patient.registered", "r3", {"sex": "male"}))  # omitted: kept
    assert (await client.get(url)).json()["histology_group"] == "IX"
    await post(client, event("patient.registered", "r4", {"histology_group": None}))
    assert (await client.get(url)).json()["histology_group"] is None
    bad = await post(client, event("patient.registered", "r5", {"histology_group": "Wilms"}))
    assert bad.status_code == 422, bad.text
    assert [e["field"] for e in bad.json()["errors"]] == ["data.histology_group"]


def test_a_registration_logged_before_histology_groups_still_replays() -> None:
    """The event log keeps each event's hash; a registration sent before revision 0012 (no
    histology_group) and sent again must hash as it did then: a replay, not a conflict."""
    data = {"birth_date": "2005-03-14", "sex": "female", "histology": "alveolar rhabdomyosarcoma"}
    logged_before = {
        "r1": "52dd003f24d1046f77e1892372120faa824691dddad1834a3a228e607b4a5bc1",
        "r2": "1c57cb820712b51bd77ad7a1111c9eaa37d847cc4554741ff9577da453628d7c",
    }
    assert parse_event(event("patient.registered", "r1", data)).fingerprint == logged_before["r1"]
    assert parse_event(event("patient.registered", "r2")).fingerprint == logged_before["r2"]
    with_group = parse_event(event("patient.registered", "r1", {**data, "histology_group": "IX"}))
    assert with_group.fingerprint != logged_before["r1"]


async def test_procedure_performed_records_levels_work_up_and_the_senders_reference(
    client: AsyncClient,
) -> None:
    data = {
        "indication": "pain_palliation",
        "work_up": {"consent_obtained": True, "platelet_count": 180, "inr": 1.1},
    }
    body = procedure("p1", "OR-7", ["T7", "T12"], data=data)
    response = await post(client, body)
    assert response.status_code == 201, response.text
    ids = response.json()["ids"]
    assert len(ids["level_ids"]) == 2
    read = (await client.get(f"/api/v1/procedures/{ids['procedure_id']}")).json()
    assert [lv["level"] for lv in read["levels"]] == ["T7", "T12"]
    assert read["performed_at"] == "2019-02-12T09:30:00Z"
    assert read["work_up"]["platelet_count"] == 180
    async with get_sessionmaker()() as session:
        row = await session.get(Procedure, uuid.UUID(ids["procedure_id"]))
        assert row is not None
        assert (row.external_source, row.external_ref) == (SOURCE, "OR-7")


async def test_the_same_procedure_reference_from_another_event_is_refused(
    client: AsyncClient,
) -> None:
    await post(client, procedure("p1", "OR-7", ["T7"]))
    response = await post(client, procedure("p2", "OR-7", ["T8"], at="2019-03-01T09:00:00Z"))
    assert response.status_code == 409
    assert response.json()["type"].endswith("procedure-ref-taken")
    assert await count(Procedure) == 1


@pytest.mark.parametrize(
    ("type_", "data", "kind", "expected"),
    [
        (
            "medication.recorded",
            {
                "drug": "Morphine",
                "dose": 10,
                "dose_unit": "mg",
                "route": "oral",
                "doses_per_day": 6,
            },
            "medication",
            {"drug": "morphine", "ome_mg_day": 60.0, "is_opioid": True},
        ),
        ("performance.scored", {"scale": "lansky", "value": 70}, "performance", {"score": 70}),
        ("function.scored", {"value": 28}, "function", {"scale": "odi", "score": 28}),
        (
            "imaging.performed",
            {"modality": "mri", "finding": "stable"},
            "imaging",
            {"modality": "mri"},
        ),
        ("progression.recorded", {"finding": "pelvis"}, "progression", {"finding": "pelvis"}),
        (
            "intervention.recorded",
            {"intervention": "chemotherapy", "description": "VAC"},
            "treatment",
            {"treatment_type": "chemotherapy", "finding": "VAC"},
        ),
        (
            "intervention.recorded",
            {"intervention": "cryoablation", "description": "pelvic lesion"},
            "treatment",
            {"treatment_type": "other", "finding": "cryoablation; pelvic lesion"},
        ),
    ],
)
async def test_follow_up_events(
    client: AsyncClient, type_: str, data: dict[str, Any], kind: str, expected: dict[str, Any]
) -> None:
    await make_patient(client, identifiers=[{"system": MRN, "value": "MRN-1"}])
    response = await post(client, event(type_, "f1", data))
    assert response.status_code == 201, response.text
    read = (await client.get(f"/api/v1/follow-ups/{response.json()['ids']['follow_up_id']}")).json()
    assert read["kind"] == kind
    assert {k: read[k] for k in expected} == expected


async def test_a_local_intervention_with_levels_is_a_procedure_of_that_kind(
    client: AsyncClient,
) -> None:
    data = {
        "intervention": "radiotherapy",
        "procedure_ref": "RT-1",
        "levels": [{"level": lv} for lv in ("T5", "T6", "T7")],
        "radiation_dose_cgy": 2000,
        "radiation_fractions": 4,
    }
    response = await post(client, event("intervention.recorded", "i1", data))
    assert response.status_code == 201, response.text
    read = (await client.get(f"/api/v1/procedures/{response.json()['ids']['procedure_id']}")).json()
    assert read["kind"] == "radiotherapy" and read["radiation_dose_cgy"] == 2000
    assert [lv["level"] for lv in read["levels"]] == ["T5", "T6", "T7"]
    assert await count(FollowUpEvent) == 0


async def test_a_systemic_intervention_with_levels_is_refused(client: AsyncClient) -> None:
    data = {"intervention": "chemotherapy", "levels": [{"level": "T5"}]}
    response = await post(client, event("intervention.recorded", "i1", data))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "data"


async def test_complication_reported_names_its_procedure_and_level(client: AsyncClient) -> None:
    await post(client, procedure("p1", "OR-7", ["T7", "T12"]))
    data = {
        "procedure_ref": "OR-7",
        "level": "t12",
        "kind": "cement_leakage",
        "symptomatic": False,
        "sir_classic": "A",
        "onset_at": "2019-02-12T10:00:00Z",
    }
    response = await post(client, event("complication.reported", "c1", data))
    assert response.status_code == 201, response.text
    ids = response.json()["ids"]
    read = (await client.get(f"/api/v1/complications/{ids['complication_id']}")).json()
    assert read["procedure_id"] == ids["procedure_id"]
    levels = (await client.get(f"/api/v1/procedures/{ids['procedure_id']}")).json()["levels"]
    assert read["level_id"] == next(lv["id"] for lv in levels if lv["level"] == "T12")


async def test_a_complication_on_a_level_not_treated_is_refused(client: AsyncClient) -> None:
    await post(client, procedure("p1", "OR-7", ["T7"]))
    data = {"procedure_ref": "OR-7", "level": "L3", "kind": "hematoma", "symptomatic": True}
    response = await post(client, event("complication.reported", "c1", data))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "data.level", "message": "L3 was not treated in this procedure."}
    ]
    assert await count(Complication) == 0


async def test_patient_deceased_records_the_death(client: AsyncClient) -> None:
    await make_patient(client, identifiers=[{"system": MRN, "value": "MRN-1"}])
    response = await post(client, event("patient.deceased", "d1", at="2019-09-20T03:00:00Z"))
    assert response.status_code == 201, response.text
    patient = (await client.get(f"/api/v1/patients/{response.json()['ids']['patient_id']}")).json()
    assert patient["death_date"] == "2019-09-20"
    late = await post(client, pain("e9", 3, at="2019-10-01T10:00:00Z"))
    assert late.status_code == 422 and late.json()["type"].endswith("after-death")


# --- the same validation as the REST API -----------------------------------------------------
@pytest.mark.parametrize(
    ("rest", "event_data", "code", "field"),
    [
        ({"kind": "pain", "value": 11}, {"value": 11}, "score-out-of-range", "data.value"),
        (
            {"kind": "pain", "scale": "fps_r", "value": 3},
            {"scale": "fps_r", "value": 3},
            "score-step",
            "data.value",
        ),
        (
            {"kind": "pain", "scale": "vas", "value": 101},
            {"scale": "vas", "value": 101},
            "score-out-of-range",
            "data.value",
        ),
    ],
)
async def test_an_event_is_refused_exactly_when_the_api_refuses_it(
    client: AsyncClient, rest: dict[str, Any], event_data: dict[str, Any], code: str, field: str
) -> None:
    patient = await make_patient(client, identifiers=[{"system": MRN, "value": "MRN-1"}])
    api = await client.post(
        "/api/v1/follow-ups",
        json={"patient_id": patient["id"], "occurred_at": "2019-02-20T10:00:00Z", **rest},
    )
    response = await post(client, event("pain.scored", "e1", event_data))
    assert api.status_code == response.status_code == 422
    assert api.json()["type"] == response.json()["type"] == f"/problems/{code}"
    assert api.json()["detail"] == response.json()["detail"]
    assert response.json()["errors"][0]["field"] == field
    assert await count(EventLog) == 0 and await count(FollowUpEvent) == 0


async def test_performance_scale_must_fit_the_age_as_in_the_api(client: AsyncClient) -> None:
    await make_patient(
        client, identifiers=[{"system": MRN, "value": "MRN-1"}], birth_date="1960-01-01"
    )
    response = await post(
        client, event("performance.scored", "s1", {"scale": "lansky", "value": 70})
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("performance-scale-age")
    assert response.json()["errors"][0]["field"] == "data.scale"


async def test_nothing_before_birth(client: AsyncClient) -> None:
    await make_patient(client, identifiers=[{"system": MRN, "value": "MRN-1"}])
    response = await post(client, pain("e1", 3, at="2001-01-01T10:00:00Z"))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "occurred_at", "message": response.json()["detail"]}
    ]
    assert response.json()["type"].endswith("before-birth")


async def test_an_identifier_names_one_patient(client: AsyncClient) -> None:
    await post(client, pain("e1", 5))
    await post(client, pain("e2", 4, at="2019-02-27T10:00:00Z"))
    async with get_sessionmaker()() as session:
        owners = (await session.scalars(select(PatientIdentifier.patient_id))).all()
    assert len(owners) == 1


async def test_a_patient_known_only_to_the_registry_by_its_own_id(client: AsyncClient) -> None:
    patient = await make_patient(client)  # no external identifier
    body = pain("e1", 4)
    body["patient"] = {"system": "urn:vertebro:patient", "value": patient["id"]}
    response = await post(client, body)
    assert response.status_code == 201, response.text
    assert response.json()["ids"]["patient_id"] == patient["id"]
    assert await count(Patient) == 1
