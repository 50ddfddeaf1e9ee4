"""The FHIR R4 door: Patient, Procedure and Observation creates (conditional with
If-None-Exist), batch and transaction Bundles, OperationOutcome errors, and $transfer as a
Bundle that comes back in whole."""

import copy
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from httpx import AsyncClient, Response
from sqlalchemy import text

from app.db import get_sessionmaker
from app.models import Complication, EventLog, FollowUpEvent, Patient, Procedure
from tests.ingestion.helpers import count, event, pain, post, procedure

FHIR = "/fhir/r4"
FJ = {"content-type": "application/fhir+json"}
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
SCT = "http://snomed.info/sct"
MRN = {"system": "urn:test:mrn", "value": "F-1"}


def patient_resource(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [MRN],
        "birthDate": "2005-03-14",
        "gender": "female",
        **extra,
    }


def observation(code: str, value: float, system: str = LOINC, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"identifier": MRN},
        "effectiveDateTime": "2019-02-20T10:00:00Z",
        "valueQuantity": {"value": value},
        **extra,
    }


def vertebroplasty(*sites: dict[str, Any], ident: str = "OR-1", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "identifier": [{"system": "urn:test:or", "value": ident}],
        "status": "completed",
        "code": {"coding": [{"system": CPT, "code": "22510"}]},
        "subject": {"identifier": MRN},
        "performedDateTime": "2019-02-12T09:30:00Z",
        "bodySite": list(sites) or [{"coding": [{"system": SCT, "code": "62487009"}]}],
        **extra,
    }


def outcome(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body: dict[str, Any] = response.json()
    OperationOutcome.model_validate(body)  # a valid FHIR resource
    assert body["issue"][0]["code"] == code, body
    return body


async def _fhir(client: AsyncClient, resource: str, body: Any, **headers: str) -> Response:
    return await client.post(f"{FHIR}/{resource}", json=body, headers={**FJ, **headers})


async def test_a_pain_observation_becomes_a_pain_score(client: AsyncClient) -> None:
    response = await _fhir(client, "Observation", observation("72514-3", 6))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["resourceType"] == "Observation" and response.headers["location"].endswith(
        body["id"]
    )
    read = (await client.get(f"/api/v1/follow-ups/{body['id']}")).json()
    assert (read["kind"], read["scale"], read["score"], read["site"]) == (
        "pain",
        "nrs11",
        6,
        "back",
    )
    assert (await client.get(f"{FHIR}/Observation/{body['id']}")).json() == body


@pytest.mark.parametrize(
    ("code", "system", "value", "extra", "expected"),
    [
        ("57696-7", LOINC, 4, {}, ("pain", "fps_r", 4)),
        ("38221-8", LOINC, 8, {}, ("pain", "wong_baker", 8)),
        ("38215-0", LOINC, 3, {}, ("pain", "flacc", 3)),
        (
            "38208-5",
            LOINC,
            45,
            {"unit": "mm", "system": "http://unitsofmeasure.org", "code": "mm"},
            ("pain", "vas", 4.5),
        ),
        ("38208-5", LOINC, 5, {}, ("pain", "nrs11", 5)),
        ("97908-8", LOINC, 28, {}, ("function", "odi", 28)),
        (
            "C38144",
            "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
            70,
            {},
            ("performance", "lansky", 70),
        ),
    ],
)
async def test_the_codes_of_domain_md(
    client: AsyncClient,
    code: str,
    system: str,
    value: float,
    extra: dict[str, Any],
    expected: tuple[Any, ...],
) -> None:
    resource = observation(code, value, system)
    resource["valueQuantity"].update(extra)
    await _fhir(client, "Patient", patient_resource())
    response = await _fhir(client, "Observation", resource)
    assert response.status_code == 201, response.text
    read = (await client.get(f"/api/v1/follow-ups/{response.json()['id']}")).json()
    assert (read["kind"], read["scale"], read["score"]) == expected


async def test_karnofsky_for_an_adult(client: AsyncClient) -> None:
    await _fhir(client, "Patient", patient_resource(birthDate="1960-01-01"))
    resource = observation("89243-0", 0)
    del resource["valueQuantity"]
    resource["valueInteger"] = 80
    response = await _fhir(client, "Observation", resource)
    assert response.status_code == 201, response.text
    assert response.json()["valueInteger"] == 80


async def test_an_unknown_code_is_reported_not_guessed(client: AsyncClient) -> None:
    body = outcome(
        await _fhir(client, "Observation", observation("1234-5", 3)), 422, "code-invalid"
    )
    assert body["issue"][0]["expression"] == ["Observation.code"]
    assert "1234-5" in body["issue"][0]["details"]["text"]
    assert await count(EventLog) == 0 and await count(Patient) == 0


async def test_a_pain_of_eleven_names_the_value(client: AsyncClient) -> None:
    body = outcome(
        await _fhir(client, "Observation", observation("72514-3", 11)), 422, "processing"
    )
    assert body["issue"][0]["expression"] == ["Observation.value[x]"]
    assert body["issue"][0]["diagnostics"] == "score-out-of-range"
    assert await count(FollowUpEvent) == 0


async def test_a_procedure_with_cpt_and_vertebra_codes(client: AsyncClient) -> None:
    sites = (
        {"coding": [{"system": SCT, "code": "36470004"}]},  # L3
        {"text": "S1"},  # sacral: no verified code, by name
    )
    resource = vertebroplasty(*sites)
    resource["code"]["coding"] = [
        {"system": CPT, "code": "22511"},
        {"system": SCT, "code": "392010000"},
    ]
    response = await _fhir(client, "Procedure", resource)
    assert response.status_code == 201, response.text
    read = (await client.get(f"/api/v1/procedures/{response.json()['id']}")).json()
    assert read["kind"] == "vertebroplasty"
    assert [lv["level"] for lv in read["levels"]] == ["L3", "S1"]
    assert response.json()["bodySite"] == [
        {"text": "L3", "coding": [{"system": SCT, "code": "36470004", "display": "L3 vertebra"}]},
        {"text": "S1"},
    ]


@pytest.mark.parametrize(
    ("change", "code", "expression"),
    [
        (
            {"code": {"coding": [{"system": CPT, "code": "99999"}]}},
            "code-invalid",
            "Procedure.code",
        ),
        (
            {"bodySite": [{"coding": [{"system": SCT, "code": "123456"}]}]},
            "code-invalid",
            "Procedure.bodySite[0]",
        ),
        ({"bodySite": [{"text": "X9"}]}, "code-invalid", "Procedure.bodySite[0]"),
        ({"status": "in-progress"}, "not-supported", "Procedure.status"),
        ({"performedDateTime": "2019-02-12"}, "invalid", "Procedure.performedDateTime"),
    ],
)
async def test_procedures_refused(
    client: AsyncClient, change: dict[str, Any], code: str, expression: str
) -> None:
    body = outcome(await _fhir(client, "Procedure", {**vertebroplasty(), **change}), 422, code)
    assert body["issue"][0]["expression"] == [expression]
    assert await count(Procedure) == 0


async def test_a_patient_with_identifiers_and_a_death(client: AsyncClient) -> None:
    resource = patient_resource(
        identifier=[MRN, {"system": "urn:test:national", "value": "N-1"}],
        deceasedDateTime="2019-09-20T03:00:00Z",
    )
    response = await _fhir(client, "Patient", resource)
    assert response.status_code == 201, response.text
    read = (await client.get(f"/api/v1/patients/{response.json()['id']}")).json()
    assert read["birth_date"] == "2005-03-14" and read["death_date"] == "2019-09-20"
    assert sorted(i["value"] for i in read["identifiers"]) == ["F-1", "N-1"]
    assert response.json()["deceasedDateTime"] == "2019-09-20T03:00:00+00:00"


async def test_conditional_create_is_idempotent(client: AsyncClient) -> None:
    condition = {"If-None-Exist": "identifier=urn:test:obs|OBS-1"}
    resource = observation("72514-3", 5, identifier=[{"system": "urn:test:obs", "value": "OBS-1"}])
    first = await _fhir(client, "Observation", resource, **condition)
    again = await _fhir(client, "Observation", resource, **condition)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert await count(FollowUpEvent) == 1
    plain = await _fhir(client, "Observation", resource)  # its identifier is stored: no copy
    assert (plain.status_code, plain.json()["id"]) == (200, first.json()["id"])
    del resource["identifier"]  # nothing to know it by: a new record
    assert (await _fhir(client, "Observation", resource)).status_code == 201
    assert await count(FollowUpEvent) == 2
    for kind, body in (("Patient", patient_resource()), ("Procedure", vertebroplasty())):
        ident = body["identifier"][0]
        header = {"If-None-Exist": f"identifier={ident['system']}|{ident['value']}"}
        assert (await _fhir(client, kind, body, **header)).status_code in (200, 201)
        assert (await _fhir(client, kind, body, **header)).status_code == 200
    assert await count(Patient) == 1 and await count(Procedure) == 1


async def test_door_level_errors_are_operation_outcomes(
    client: AsyncClient, anonymous_client: AsyncClient
) -> None:
    outcome(
        await _fhir(
            client, "Observation", observation("72514-3", 5), **{"If-None-Exist": "code=72514-3"}
        ),
        400,
        "not-supported",
    )
    malformed = await client.post(f"{FHIR}/Observation", content=b"{oops", headers=FJ)
    outcome(malformed, 400, "structure")
    wrong_type = await client.post(
        f"{FHIR}/Observation", content=b"{}", headers={"content-type": "text/plain"}
    )
    outcome(wrong_type, 415, "not-supported")
    outcome(await _fhir(client, "Observation", patient_resource()), 400, "invalid")
    no_subject = observation("72514-3", 5)
    del no_subject["subject"]
    outcome(await _fhir(client, "Observation", no_subject), 422, "required")
    naive = observation("72514-3", 5, effectiveDateTime="2019-02-20T10:00:00")
    outcome(await _fhir(client, "Observation", naive), 422, "invalid")
    outcome(await anonymous_client.post(f"{FHIR}/Observation", json={}, headers=FJ), 401, "login")
    outcome(
        await client.get(f"{FHIR}/Patient/{'0' * 8}-0000-0000-0000-{'0' * 12}/$everything"),
        404,
        "not-found",
    )
    assert await count(EventLog) == 0


def _bundle(kind: str, *entries: tuple[str, dict[str, Any], str | None]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "fullUrl": url,
                "resource": resource,
                "request": {
                    "method": "POST",
                    "url": resource["resourceType"],
                    **({"ifNoneExist": cond} if cond else {}),
                },
            }
            for url, resource, cond in entries
        ],
    }


def _linked_entries() -> list[tuple[str, dict[str, Any], str | None]]:
    """A patient, a procedure and two observations referring to them by fullUrl."""
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:test:mrn", "value": "B-1"}],
        "gender": "male",
    }
    proc = vertebroplasty(ident="OR-B", subject={"reference": "urn:uuid:p"})
    obs = [
        observation(
            "72514-3",
            v,
            subject={"reference": "urn:uuid:p"},
            partOf=[{"reference": "urn:uuid:proc"}],
            effectiveDateTime=f"2019-02-{d}T10:00:00Z",
        )
        for v, d in ((7, 10), (3, 20))
    ]
    return [
        ("urn:uuid:obs1", obs[0], None),
        ("urn:uuid:p", patient, None),
        ("urn:uuid:proc", proc, None),
        ("urn:uuid:obs2", obs[1], None),
    ]


async def test_a_transaction_bundle_links_its_entries(client: AsyncClient) -> None:
    response = await _fhir(client, "Bundle", _bundle("transaction", *_linked_entries()))
    assert response.status_code == 200, response.text
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 4
    async with get_sessionmaker()() as session:
        rows = (await session.execute(text("SELECT procedure_id FROM follow_up_events"))).all()
    procedure_id = body["entry"][2]["response"]["location"].split("/")[1]
    assert [str(r[0]).replace("-", "") for r in rows] == [procedure_id.replace("-", "")] * 2
    assert await count(Patient) == 1


async def test_a_transaction_is_all_or_nothing(client: AsyncClient) -> None:
    entries = _linked_entries()
    entries[3][1]["valueQuantity"]["value"] = 11
    body = outcome(
        await _fhir(client, "Bundle", _bundle("transaction", *entries)), 422, "processing"
    )
    assert body["issue"][0]["expression"] == ["Bundle.entry[3].resource.value[x]"]
    assert await count(EventLog) == 0 and await count(Patient) == 0 and await count(Procedure) == 0


async def test_a_batch_keeps_the_good_entries(client: AsyncClient) -> None:
    entries = _linked_entries()
    entries[3][1]["valueQuantity"]["value"] = 11
    entries.append(
        ("urn:uuid:x", observation("0000-0", 1, subject={"reference": "urn:uuid:p"}), None)
    )
    response = await _fhir(client, "Bundle", _bundle("batch", *entries))
    assert response.status_code == 200
    body = response.json()
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created"] * 3 + ["422 Unprocessable Entity"] * 2
    assert body["entry"][4]["response"]["outcome"]["issue"][0]["code"] == "code-invalid"
    assert body["entry"][3]["response"]["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[3].resource.value[x]"
    ]
    assert await count(FollowUpEvent) == 1


async def _case_through_events(client: AsyncClient) -> str:
    events = [
        event("patient.registered", "r", {"birth_date": "2005-03-14", "sex": "female"}),
        procedure("p1", "OR-7", ["T7", "T12"]),
        pain("s0", 7, at="2019-02-05T10:00:00Z"),
        pain("s1", 5, at="2019-02-19T10:00:00Z", data={"procedure_ref": "OR-7"}),
        pain("s2", 0, at="2019-03-05T10:00:00Z", data={"procedure_ref": "OR-7", "site": "leg"}),
        event(
            "performance.scored", "l1", {"scale": "lansky", "value": 70}, at="2019-02-20T10:00:00Z"
        ),
        event("function.scored", "o1", {"value": 30}, at="2019-02-20T10:00:00Z"),
        procedure("p2", "OR-8", ["S1"], at="2019-05-01T09:00:00Z"),
        event("patient.deceased", "d", at="2019-09-20T03:00:00Z"),
    ]
    body = (await post(client, {"events": events})).json()
    assert body["created"] == len(events), body
    patient_id: str = body["results"][0]["ids"]["patient_id"]
    return patient_id


def _comparable(bundle: dict[str, Any]) -> list[Any]:
    """The clinical content of a bundle, without the registry's ids."""
    own = ("urn:vertebro:", "urn:uuid:")
    out = []
    for entry in bundle["entry"]:
        resource = copy.deepcopy(entry["resource"])
        resource.pop("id", None)
        resource["identifier"] = [
            i for i in resource.get("identifier", []) if not i["system"].startswith(own)
        ]
        for ref in ("subject", "partOf"):
            resource.pop(ref, None)
        out.append(resource)
    return out


async def test_transfer_round_trips(client: AsyncClient) -> None:
    patient_id = await _case_through_events(client)
    response = await client.get(f"{FHIR}/Patient/{patient_id}/$transfer")
    assert response.status_code == 200
    exported = response.json()
    Bundle.model_validate(exported)
    assert exported["type"] == "transaction"
    kinds = [e["resource"]["resourceType"] for e in exported["entry"]]
    assert kinds == ["Patient", "Procedure", "Procedure"] + ["Observation"] * 5

    # posted back to the same registry: every entry is already there, nothing new
    before = [await count(m) for m in (Patient, Procedure, FollowUpEvent, Complication)]
    again = (await _fhir(client, "Bundle", exported)).json()
    assert [e["response"]["status"] for e in again["entry"]] == ["200 OK"] * len(kinds)
    assert [await count(m) for m in (Patient, Procedure, FollowUpEvent, Complication)] == before

    # posted to an empty registry: the same case (as far as FHIR carries it) comes back
    async with get_sessionmaker()() as session, session.begin():
        await session.execute(text("DELETE FROM patients"))
        await session.execute(text("DELETE FROM event_log"))
    rebuilt = await _fhir(client, "Bundle", exported)
    assert rebuilt.status_code == 200, rebuilt.text
    assert {e["response"]["status"] for e in rebuilt.json()["entry"]} == {"201 Created"}
    new_id = rebuilt.json()["entry"][0]["response"]["location"].split("/")[1]
    second = (await client.get(f"{FHIR}/Patient/{new_id}/$transfer")).json()
    assert _comparable(second) == _comparable(exported)
    case = (await client.get(f"/api/v1/cases/{new_id}")).json()
    assert case["patient"]["death_date"] == "2019-09-20"
    assert [p["score"] for p in case["episodes"][0]["trajectory"][:2]] == [5, None]
    assert sum(1 for e in case["timeline"] if e["procedure_id"]) == 2  # partOf came back


async def test_the_documented_examples_are_accepted(client: AsyncClient) -> None:
    from app.ingestion.fhir.router import BUNDLE_EXAMPLE

    response = await _fhir(client, "Bundle", BUNDLE_EXAMPLE)
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["201 Created"] * 3
    spec = (await client.get("/openapi.json")).json()
    example = spec["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    batch = (await post(client, example["examples"]["a batch"]["value"])).json()
    assert batch["created"] == 2
