"""FHIR search: Patient (identifier, birthdate), Procedure (patient, date, code), Observation
(patient, code, date, category, _include=Observation:part-of); _count paging by next links;
total when it is free or asked for; unknown parameters refused unless lenient; cases:read."""

from httpx import AsyncClient

from tests.conftest import ScopedClient
from tests.fhir.helpers import FHIR, all_pages, ids, next_link, outcome, searchset, seed_case

LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"


async def test_patient_by_identifier_and_birthdate(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    first = await seed_case(client, "MRN-1", "2005-03-14")
    second = await seed_case(client, "MRN-2", "2010-07-01")
    by_mrn = searchset(
        await client.get(f"{FHIR}/Patient", params={"identifier": "urn:test:mrn|MRN-2"})
    )
    assert ids(by_mrn) == [second] and by_mrn["total"] == 1
    any_system = await client.get(f"{FHIR}/Patient", params={"identifier": "MRN-1"})
    assert ids(searchset(any_system)) == [first]
    for value, expected in (
        ("2005", [first]), ("2005-03", [first]), ("eq2005-03-14", [first]), ("2005-03-15", []),
        ("ge2006-01-01", [second]), ("lt2010-07-01", [first]), ("le2010-07-01", [first, second]),
        ("gt2005-03-14", [second]),
    ):  # fmt: skip
        found = searchset(await client.get(f"{FHIR}/Patient", params={"birthdate": value}))
        assert sorted(ids(found)) == sorted(expected), value
    # a credential that may not see MRNs cannot look a patient up by one; by the own id it can
    async with scoped_client("cases:read") as reader:
        hidden = searchset(await reader.get(f"{FHIR}/Patient", params={"identifier": "MRN-1"}))
        assert hidden["entry"] == []
        own = f"urn:vertebro:patient|{first}"
        by_own = await reader.get(f"{FHIR}/Patient", params={"identifier": own})
        assert ids(searchset(by_own)) == [first]


async def test_procedure_by_patient_date_and_code(client: AsyncClient) -> None:
    patient_id = await seed_case(client)
    await seed_case(client, "MRN-2")
    mine = searchset(await client.get(f"{FHIR}/Procedure", params={"patient": patient_id}))
    assert len(mine["entry"]) == 2
    subjects = {e["resource"]["subject"]["reference"] for e in mine["entry"]}
    assert subjects == {f"Patient/{patient_id}"}
    params = {"patient": f"Patient/{patient_id}", "date": ["ge2019-02-01", "lt2019-03"]}
    february = searchset(await client.get(f"{FHIR}/Procedure", params=params))
    assert [e["resource"]["performedDateTime"][:10] for e in february["entry"]] == ["2019-02-12"]
    coded = searchset(await client.get(f"{FHIR}/Procedure", params={"code": f"{CPT}|22510"}))
    assert len(coded["entry"]) == 2  # T7+T12 in both cases; S1 has no verified code
    none = searchset(await client.get(f"{FHIR}/Procedure", params={"code": f"{LOINC}|22510"}))
    assert none["entry"] == []


async def test_observation_by_code_date_category_and_include(client: AsyncClient) -> None:
    patient_id = await seed_case(client)
    params = {"patient": patient_id, "code": f"{LOINC}|72514-3", "date": "ge2019-02-01"}
    pain = searchset(await client.get(f"{FHIR}/Observation", params=params))
    assert [e["resource"]["valueQuantity"]["value"] for e in pain["entry"]] == [7, 5, 2, 1]
    survey = "http://terminology.hl7.org/CodeSystem/observation-category|survey"
    every = searchset(await client.get(f"{FHIR}/Observation", params={"category": survey}))
    assert len(every["entry"]) == 6
    assert all(
        e["resource"]["category"][0]["coding"][0]["code"] == "survey" for e in every["entry"]
    )
    vital = searchset(await client.get(f"{FHIR}/Observation", params={"category": "vital-signs"}))
    assert vital["entry"] == []
    lansky = searchset(await client.get(f"{FHIR}/Observation", params={"code": "C38144"}))
    assert [e["resource"]["valueInteger"] for e in lansky["entry"]] == [70]
    params = {"code": "72514-3", "date": "2019-02", "_include": "Observation:part-of"}
    included = searchset(await client.get(f"{FHIR}/Observation", params=params))
    [procedure] = ids(included, "include")
    assert included["entry"][-1]["resource"]["resourceType"] == "Procedure"
    matched = [e["resource"] for e in included["entry"] if e["search"]["mode"] == "match"]
    assert [r.get("partOf") for r in matched] == [None, [{"reference": f"Procedure/{procedure}"}]]


async def test_paging_and_total(client: AsyncClient) -> None:
    for n in range(3):
        await seed_case(client, f"MRN-{n}")
    url = f"{FHIR}/Observation?code=72514-3&_count=5"
    first = searchset(await client.get(url))
    assert "total" not in first and next_link(first) is not None  # not free: not counted
    assert searchset(await client.get(url + "&_total=accurate"))["total"] == 12
    entries, pages = await all_pages(client, url)
    assert pages == 3 and len({e["resource"]["id"] for e in entries}) == 12
    coded = searchset(await client.get(f"{FHIR}/Procedure?code=22510&_count=1&_total=accurate"))
    assert coded["total"] == 3 and len(coded["entry"]) == 1
    outcome(await client.get(f"{FHIR}/Observation?_count=0"), 400)
    outcome(await client.get(f"{FHIR}/Observation?_cursor=bogus"), 400)


async def test_bad_and_unknown_parameters(client: AsyncClient) -> None:
    body = outcome(await client.get(f"{FHIR}/Observation", params={"subject": "x"}), 400)
    assert "'subject'" in body["issue"][0]["details"]["text"]
    lenient = await client.get(
        f"{FHIR}/Observation", params={"subject": "x"}, headers={"Prefer": "handling=lenient"}
    )
    assert "subject" not in searchset(lenient)["link"][0]["url"]
    for params in (
        {"date": "sa2019"}, {"date": "2019-02-12T10:00"}, {"patient": "Group/1"},
        {"_include": "Observation:subject"},
    ):  # fmt: skip
        outcome(await client.get(f"{FHIR}/Observation", params=params), 400)


async def test_search_needs_cases_read_and_is_audited(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    patient_id = await seed_case(client)
    async with scoped_client("events:write") as writer:
        outcome(await writer.get(f"{FHIR}/Observation"), 403)
    async with scoped_client("cases:read") as reader:
        searchset(await reader.get(f"{FHIR}/Observation", params={"patient": patient_id}))
    audit = (await client.get("/api/v1/audit", params={"limit": 50})).json()["items"]
    rows = [a for a in audit if a.get("resource_type") == "fhir/r4/Observation"]
    assert any(r["patient_id"] == patient_id and r["outcome"] == "success" for r in rows), rows
