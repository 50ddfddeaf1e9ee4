"""The pain a procedure is done for (clinical-rules.md section 3, revised): recorded through every
door (REST, events, FHIR), back by default, and read by its episode's baseline and rule A; rule B
stays on back pain."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from app.clinical.episodes import ProcedureFact
from app.clinical.pain import PainFact
from app.ingestion.fhir.codes import TARGET_PAIN_SITE_EXTENSION
from app.triggers import rules
from app.triggers.evaluation import trigger_rules
from tests.factories import add_pain, make_patient, make_procedure
from tests.ingestion.helpers import post, procedure
from tests.triggers.helpers import T0, day, iso, sweep, triggers

FHIR = "/fhir/r4"
FJ = {"content-type": "application/fhir+json"}
CPT = "http://www.ama-assn.org/go/cpt"
SCT = "http://snomed.info/sct"


async def _case(client: AsyncClient, patient_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/cases/{patient_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- REST ---------------------------------------------------------------------------------------
async def test_back_by_default_and_leg_when_said(client: AsyncClient) -> None:
    patient = await make_patient(client)
    default = await make_procedure(client, patient["id"], performed_at=iso(T0))
    leg = await make_procedure(
        client, patient["id"], performed_at=iso(day(60)), target_pain_site="leg"
    )
    assert default["target_pain_site"] == "back"
    assert leg["target_pain_site"] == "leg"
    read = (await client.get(f"/api/v1/procedures/{leg['id']}")).json()
    assert read["target_pain_site"] == "leg"


@pytest.mark.parametrize("site", ["arm", "other", "", None, 1])
async def test_a_site_that_is_not_back_or_leg_is_refused_by_name(
    client: AsyncClient, site: Any
) -> None:
    patient = await make_patient(client)
    body = {
        "patient_id": patient["id"],
        "kind": "vertebroplasty",
        "performed_at": iso(T0),
        "levels": [{"level": "T9"}],
        "target_pain_site": site,
    }
    response = await client.post("/api/v1/procedures", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["target_pain_site"]
    assert (await _case(client, patient["id"]))["procedures"] == []


async def test_the_episode_reads_the_target_site(client: AsyncClient) -> None:
    """Leg pain 8 before a leg-targeted vertebroplasty, 3 at day 13, back pain all along: the
    episode's baseline and day-14 point are the leg's; a back-targeted one would see back."""
    patient = await make_patient(client)
    await make_procedure(client, patient["id"], performed_at=iso(T0), target_pain_site="leg")
    for n, score, site in [(-3, 8, "leg"), (-2, 4, "back"), (13, 3, "leg"), (13.1, 4, "back")]:
        await add_pain(client, patient["id"], iso(day(n)), score, site=site)
    (episode,) = (await _case(client, patient["id"]))["episodes"]
    assert episode["target_pain_site"] == "leg"
    assert (episode["baseline"], episode["trajectory"][1]["score"]) == (8, 3)
    assert episode["trajectory"][1]["improved"] is True


async def test_changing_the_target_re_evaluates_rule_a(client: AsyncClient) -> None:
    """Recorded as back pain with only leg scores: no baseline, no trigger. Corrected to leg
    (If-Match): the day-14 decision is revised to no improvement and its trigger opens, with
    the leg scores as evidence."""
    patient = await make_patient(client)
    created = await make_procedure(client, patient["id"], performed_at=iso(T0))
    for n, score in [(-3, 8), (10, 8)]:
        await add_pain(client, patient["id"], iso(day(n)), score, site="leg")
    await sweep(day(30))
    case = await _case(client, patient["id"])
    assert [c["outcome"] for c in case["day14_checks"]] == ["baseline_missing"]
    assert await triggers(client, patient_id=patient["id"]) == []
    response = await client.patch(
        f"/api/v1/procedures/{created['id']}",
        json={"target_pain_site": "leg"},
        headers={"If-Match": f'"{created["version"]}"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["target_pain_site"] == "leg"
    case = await _case(client, patient["id"])
    assert [c["outcome"] for c in case["day14_checks"]] == ["no_improvement"]
    (trigger,) = await triggers(client, patient_id=patient["id"])
    assert (trigger["rule"], trigger["status"], trigger["baseline"]) == (
        "no_improvement",
        "open",
        8,
    )
    assert sorted(e["score"] for e in trigger["evidence"]) == [8, 8]


# --- events -------------------------------------------------------------------------------------
async def test_an_event_carries_the_target_site(client: AsyncClient) -> None:
    body = procedure("p-1", "OR-1", ["L3"], data={"target_pain_site": "leg"})
    response = await post(client, body)
    assert response.status_code == 201, response.text
    procedure_id = response.json()["ids"]["procedure_id"]
    read = (await client.get(f"/api/v1/procedures/{procedure_id}")).json()
    assert read["target_pain_site"] == "leg"
    refused = await post(client, procedure("p-2", "OR-2", ["L3"], data={"target_pain_site": "x"}))
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["data.target_pain_site"]


# --- FHIR ---------------------------------------------------------------------------------------
def _fhir_procedure(*extension: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "identifier": [{"system": "urn:test:or", "value": f"OR-{uuid.uuid4().hex[:6]}"}],
        "status": "completed",
        "code": {"coding": [{"system": CPT, "code": "22511"}]},
        "subject": {"identifier": {"system": "urn:test:mrn", "value": "F-1"}},
        "performedDateTime": "2019-02-12T09:30:00Z",
        "bodySite": [{"coding": [{"system": SCT, "code": "36470004"}]}],
        **({"extension": list(extension)} if extension else {}),
    }


async def test_fhir_reads_and_writes_the_target_site_as_an_extension(client: AsyncClient) -> None:
    leg = {"url": TARGET_PAIN_SITE_EXTENSION, "valueCode": "leg"}
    unrelated = {"url": "http://example.org/fhir/x", "valueString": "ignored"}
    response = await client.post(
        f"{FHIR}/Procedure", json=_fhir_procedure(unrelated, leg), headers=FJ
    )
    assert response.status_code == 201, response.text
    assert response.json()["extension"] == [leg]
    read = (await client.get(f"/api/v1/procedures/{response.json()['id']}")).json()
    assert read["target_pain_site"] == "leg"
    plain = await client.post(f"{FHIR}/Procedure", json=_fhir_procedure(), headers=FJ)
    assert plain.status_code == 201, plain.text
    assert plain.json()["extension"] == [{"url": TARGET_PAIN_SITE_EXTENSION, "valueCode": "back"}]


async def test_fhir_refuses_a_target_site_it_does_not_know(client: AsyncClient) -> None:
    arm = {"url": TARGET_PAIN_SITE_EXTENSION, "valueCode": "arm"}
    response = await client.post(f"{FHIR}/Procedure", json=_fhir_procedure(arm), headers=FJ)
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "code-invalid"
    assert issue["expression"] == ["Procedure.extension[0].valueCode"]


# --- the rules ----------------------------------------------------------------------------------
def test_rule_b_reads_back_pain_for_a_leg_episode() -> None:
    """A leg-targeted episode: leg pain improving then worsening fires nothing; back pain
    improving (against its own back baseline) then worsening fires rule B."""
    t0 = datetime(2020, 1, 10, 9, tzinfo=UTC)
    at = [t0 + timedelta(days=n) for n in range(-5, 60)]
    proc = ProcedureFact(uuid.uuid4(), t0, "vertebroplasty", frozenset({"L3"}), None, "leg")

    def facts(site: str, points: list[tuple[int, float]]) -> list[PainFact]:
        return [PainFact(at[n + 5], v, site, uuid.uuid4()) for n, v in points]

    leg_worse = facts("leg", [(-2, 8), (10, 2), (30, 8)])
    back_worse = facts("back", [(-1, 6), (12, 2), (40, 6)])
    now = t0 + timedelta(days=100)
    r = trigger_rules()
    assert rules.evaluate([proc], leg_worse, None, now, r).worsenings == []
    (fired,) = rules.evaluate([proc], leg_worse + back_worse, None, now, r).worsenings
    assert (fired.baseline, fired.due_at) == (6, at[45])
    # rule A read the leg: improved 8 -> 2
    (check,) = rules.evaluate([proc], leg_worse + back_worse, None, now, r).day14
    assert check.outcome == rules.Day14Outcome.improved
    assert check.baseline is not None and check.baseline.score == 8
