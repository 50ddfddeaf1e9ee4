"""The rest of a case in FHIR, outbound: the diagnosis as a Condition, medications as
MedicationStatements (RxNorm where verified, the OME the registry derived as an extension),
complications as AdverseEvents (severity from SIR 2017, each grade in its classification's
system, the procedure as suspect entity); in $everything (with _type and _since) and valid R4."""

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from httpx import AsyncClient

from tests.fhir.helpers import FHIR, seed_clinical_case


def _by_type(page: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in page["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)  # valid R4
        found.setdefault(resource["resourceType"], []).append(resource)
    return found


async def test_everything_carries_diagnosis_medications_and_complications(
    client: AsyncClient,
) -> None:
    patient = await seed_clinical_case(client)
    page = (await client.get(f"{FHIR}/Patient/{patient}/$everything?_count=100")).json()
    found = _by_type(page)
    (condition,) = found["Condition"]
    assert condition["code"]["text"] == "alveolar rhabdomyosarcoma"
    assert condition["clinicalStatus"]["coding"][0]["code"] == "relapse"
    assert condition["bodySite"] == [{"text": "pelvis"}]
    assert condition["onsetDateTime"] == "2017-05-01"
    (statement,) = found["MedicationStatement"]
    assert statement["medicationCodeableConcept"]["coding"][0]["code"] == "7052"  # RxNorm
    assert statement["dosage"][0]["timing"]["repeat"]["frequency"] == 6
    ome = {e["url"]: e for e in statement["extension"]}
    assert ome["urn:vertebro:extension:ome-mg-day"]["valueDecimal"] == 60  # 10 mg x 6, factor 1
    (adverse,) = found["AdverseEvent"]
    assert adverse["severity"]["coding"][0]["code"] == "mild"
    procedure_ids = {p["id"] for p in found["Procedure"]}
    assert adverse["suspectEntity"][0]["instance"]["reference"].split("/")[1] in procedure_ids
    grades = {
        e["valueCoding"]["system"]: e["valueCoding"]["code"]
        for e in adverse["extension"]
        if "valueCoding" in e
    }
    assert grades == {
        "urn:vertebro:sir-classic-grade": "A",
        "urn:vertebro:sir-2017-severity": "mild",
        "urn:vertebro:cirse-grade:2017": "1",
    }


async def test_type_and_since_select_the_new_resources_too(client: AsyncClient) -> None:
    patient = await seed_clinical_case(client)
    url = f"{FHIR}/Patient/{patient}/$everything"
    only = (await client.get(url, params={"_type": "AdverseEvent,Condition"})).json()
    assert set(_by_type(only)) == {"AdverseEvent", "Condition"}
    later = (await client.get(url, params={"_since": "2999-01-01T00:00:00Z"})).json()
    assert later.get("entry", []) == []


async def _found(client: AsyncClient, kind: str, **params: str) -> int:
    answer = await client.get(f"{FHIR}/{kind}", params=params)
    assert answer.status_code == 200, answer.text
    return len(_by_type(answer.json()).get(kind, []))


async def test_search_on_the_new_types_with_r4_parameter_names(client: AsyncClient) -> None:
    patient = await seed_clinical_case(client)
    other = await seed_clinical_case(client, "MRN-C2")
    assert await _found(client, "Condition") == 2
    assert await _found(client, "Condition", patient=f"Patient/{patient}") == 1
    assert await _found(client, "Condition", **{"onset-date": "ge2017-01-01"}) == 2
    assert await _found(client, "Condition", **{"onset-date": "lt2017-01-01"}) == 0
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert await _found(client, "MedicationStatement", code=f"{rxnorm}|7052") == 2
    assert await _found(client, "MedicationStatement", code="7804") == 0  # oxycodone
    assert await _found(client, "MedicationStatement", patient=other, effective="2019-02-05") == 1
    assert await _found(client, "AdverseEvent", subject=f"Patient/{patient}") == 1
    assert await _found(client, "AdverseEvent", severity="mild") == 2
    assert await _found(client, "AdverseEvent", severity="severe") == 0
    assert await _found(client, "AdverseEvent", date="2019-02-12") == 2
    refused = await client.get(f"{FHIR}/AdverseEvent", params={"patient": patient})
    assert refused.status_code == 400  # R4 names it `subject` for an AdverseEvent
