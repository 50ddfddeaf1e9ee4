"""Seeding a case through the event door, and checking FHIR answers with fhir.resources."""

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from httpx import AsyncClient, Response

from tests.ingestion.helpers import event, pain, post, procedure

FHIR = "/fhir/r4"
BASE = "http://test/fhir/r4"


async def seed_case(client: AsyncClient, mrn: str = "MRN-1", birth: str = "2005-03-14") -> str:
    """A patient with two vertebroplasties (T7+T12 on 12 Feb 2019, S1 on 1 May 2019), four
    pain scores (two partOf the first session), a Lansky and an ODI score; its id."""
    events = [
        event("patient.registered", f"{mrn}-r", {"birth_date": birth, "sex": "female"}, mrn=mrn),
        procedure(f"{mrn}-p1", f"{mrn}-OR-7", ["T7", "T12"], mrn=mrn),
        pain(f"{mrn}-s0", 7, at="2019-02-05T10:00:00Z", mrn=mrn),
        pain(f"{mrn}-s1", 5, at="2019-02-19T10:00:00Z", mrn=mrn,
             data={"procedure_ref": f"{mrn}-OR-7"}),
        pain(f"{mrn}-s2", 2, at="2019-03-05T10:00:00Z", mrn=mrn,
             data={"procedure_ref": f"{mrn}-OR-7"}),
        event("performance.scored", f"{mrn}-l1", {"scale": "lansky", "value": 70},
              at="2019-02-20T10:00:00Z", mrn=mrn),
        event("function.scored", f"{mrn}-o1", {"value": 30}, at="2019-02-20T10:00:00Z", mrn=mrn),
        procedure(f"{mrn}-p2", f"{mrn}-OR-8", ["S1"], at="2019-05-01T09:00:00Z", mrn=mrn),
        pain(f"{mrn}-s3", 1, at="2019-06-01T10:00:00Z", mrn=mrn),
    ]  # fmt: skip
    body = (await post(client, {"events": events})).json()
    assert body["created"] == len(events), body
    patient_id: str = body["results"][0]["ids"]["patient_id"]
    return patient_id


async def seed_clinical_case(client: AsyncClient, mrn: str = "MRN-C1") -> str:
    """A relapsed alveolar rhabdomyosarcoma (ICCC-3 IX, pelvis), a T7+T12 vertebroplasty,
    oral morphine 10 mg six times a day, and a graded cement leakage at T7; its id."""
    diagnosis = {
        "birth_date": "2005-03-14", "sex": "female", "histology": "alveolar rhabdomyosarcoma",
        "histology_group": "IX", "primary_site": "pelvis", "diagnosis_date": "2017-05-01",
        "relapsed_refractory": True,
    }  # fmt: skip
    morphine = {"drug": "morphine", "dose": 10, "dose_unit": "mg", "route": "oral",
                "doses_per_day": 6}  # fmt: skip
    leak = {"procedure_ref": f"{mrn}-OR-7", "level": "T7", "kind": "cement_leakage",
            "symptomatic": False, "sir_classic": "A", "sir_2017": "mild",
            "cirse_grade": 1, "cirse_version": "2017"}  # fmt: skip
    events = [
        event("patient.registered", f"{mrn}-r1", diagnosis, mrn=mrn),
        procedure(f"{mrn}-p1", f"{mrn}-OR-7", ["T7", "T12"], mrn=mrn),
        event("medication.recorded", f"{mrn}-m1", morphine, at="2019-02-05T10:00:00Z", mrn=mrn),
        event("complication.reported", f"{mrn}-c1", leak, at="2019-02-12T10:00:00Z", mrn=mrn),
    ]
    body = (await post(client, {"events": events})).json()
    assert body["created"] == len(events), body
    patient_id: str = body["results"][0]["ids"]["patient_id"]
    return patient_id


def searchset(response: Response) -> dict[str, Any]:
    """A 200 searchset Bundle, valid for fhir.resources (every entry's resource too)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body: dict[str, Any] = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    return body


def ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == mode]


def next_link(bundle: dict[str, Any]) -> str | None:
    found = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
    return found[0] if found else None


async def all_pages(client: AsyncClient, url: str) -> tuple[list[dict[str, Any]], int]:
    """Every entry, following next links; and how many pages it took."""
    entries: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        page = searchset(await client.get(next_url.removeprefix("http://test")))
        entries += page["entry"]
        pages += 1
        next_url = next_link(page)
    return entries, pages


def outcome(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body: dict[str, Any] = response.json()
    OperationOutcome.model_validate(body)
    return body
