"""The rest of a case in FHIR, outbound: the diagnosis as a Condition, medications as
MedicationStatements (RxNorm where verified, the OME the registry derived as an extension),
complications as AdverseEvents (severity from SIR 2017, each grade in its classification's
system, the procedure as suspect entity); in $everything (with _type and _since) and valid R4."""

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from httpx import AsyncClient

from tests.fhir.helpers import FHIR
from tests.ingestion.helpers import event, post, procedure

MRN = "MRN-C1"


async def _case(client: AsyncClient) -> str:
    diagnosis = {
        "birth_date": "2005-03-14", "sex": "female", "histology": "alveolar rhabdomyosarcoma",
        "histology_group": "IX", "primary_site": "pelvis", "diagnosis_date": "2017-05-01",
        "relapsed_refractory": True,
    }  # fmt: skip
    morphine = {"drug": "morphine", "dose": 10, "dose_unit": "mg", "route": "oral",
                "doses_per_day": 6}  # fmt: skip
    leak = {"procedure_ref": "OR-7", "level": "T7", "kind": "cement_leakage",
            "symptomatic": False, "sir_classic": "A", "sir_2017": "mild",
            "cirse_grade": 1, "cirse_version": "2017"}  # fmt: skip
    events = [
        event("patient.registered", "r1", diagnosis, mrn=MRN),
        procedure("p1", "OR-7", ["T7", "T12"], mrn=MRN),
        event("medication.recorded", "m1", morphine, at="2019-02-05T10:00:00Z", mrn=MRN),
        event("complication.reported", "c1", leak, at="2019-02-12T10:00:00Z", mrn=MRN),
    ]
    body = (await post(client, {"events": events})).json()
    assert body["created"] == len(events), body
    patient_id: str = body["results"][0]["ids"]["patient_id"]
    return patient_id


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
    patient = await _case(client)
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
    patient = await _case(client)
    url = f"{FHIR}/Patient/{patient}/$everything"
    only = (await client.get(url, params={"_type": "AdverseEvent,Condition"})).json()
    assert set(_by_type(only)) == {"AdverseEvent", "Condition"}
    later = (await client.get(url, params={"_since": "2999-01-01T00:00:00Z"})).json()
    assert later.get("entry", []) == []
