"""GET /fhir/r4/metadata: a valid R4 CapabilityStatement, open without a credential, that says
exactly what the mounted /fhir/r4 routes do (walked here both ways), and each interaction it
declares answers."""

import re
import typing

from fastapi.routing import APIRoute, iter_route_contexts
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from httpx import AsyncClient

from app.ingestion.fhir.search import SEARCH_PARAMETERS
from app.main import create_app
from tests.fhir.helpers import FHIR, seed_case, seed_clinical_case

ASYNC = {"Prefer": "respond-async"}


def _mounted() -> set[tuple[str, str]]:
    """(type, interaction or $operation) for every /fhir/r4 route of the application, read
    independently of app.ingestion.fhir.capability."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(create_app().routes):
        path = str(route.path)
        if not isinstance(route.original_route, APIRoute) or not path.startswith(FHIR + "/"):
            continue
        parts = path.removeprefix(FHIR + "/").split("/")
        methods = route.methods or set()
        if parts == ["metadata"] or parts[0] in ("$export-status", "$export-files"):
            continue  # (the Bulk Data protocol's URLs, no interactions)
        if parts[0].startswith("$"):
            found.add(("", parts[0]))
            continue
        if parts == ["Bundle"]:
            found |= {("", "batch"), ("", "transaction")}
        elif len(parts) == 1:
            found |= {(parts[0], {"GET": "search-type", "POST": "create"}[m]) for m in methods}
        elif parts[-1].startswith("$"):
            found.add((parts[0], parts[-1]))
        else:
            param = next(p for p in route.dependant.path_params if p.name == "resource_type")
            found |= {(str(t), "read") for t in typing.get_args(param.field_info.annotation)}
    return found


async def test_metadata_is_open_and_a_valid_capability_statement(
    anonymous_client: AsyncClient,
) -> None:
    response = await anonymous_client.get(f"{FHIR}/metadata")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body = response.json()
    CapabilityStatement.model_validate(body)
    assert (body["fhirVersion"], body["kind"], body["status"]) == ("4.0.1", "instance", "active")
    assert "application/fhir+json" in body["format"]
    assert body["implementation"]["url"] == "http://test/fhir/r4"
    security = body["rest"][0]["security"]
    assert "cases:read" in security["description"] and "API key" in security["service"][-1]["text"]


async def test_the_statement_is_the_mounted_routes(anonymous_client: AsyncClient) -> None:
    body = (await anonymous_client.get(f"{FHIR}/metadata")).json()
    rest = body["rest"][0]
    declared = {("", i["code"]) for i in rest["interaction"]}
    declared |= {("", f"${op['name']}") for op in rest.get("operation", [])}
    for resource in rest["resource"]:
        declared |= {(resource["type"], i["code"]) for i in resource["interaction"]}
        declared |= {(resource["type"], f"${op['name']}") for op in resource.get("operation", [])}
        if any(i["code"] == "search-type" for i in resource["interaction"]):
            names = {p["name"] for p in resource["searchParam"]}
            assert names == {n for n, _t, _d in SEARCH_PARAMETERS[resource["type"]]}
    assert declared == _mounted()
    assert ("Patient", "$everything") in declared and ("Patient", "$transfer") in declared
    assert ("Observation", "search-type") in declared and ("", "transaction") in declared
    assert ("", "$export") in declared and ("Patient", "$export") in declared
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    everything = next(op for op in patient["operation"] if op["name"] == "everything")
    assert everything["definition"] == "http://hl7.org/fhir/OperationDefinition/Patient-everything"


async def test_every_declared_read_search_and_operation_answers(client: AsyncClient) -> None:
    patient_id = await seed_case(client)
    await seed_clinical_case(client)  # a diagnosis, a medication and a complication to find
    rest = (await client.get(f"{FHIR}/metadata")).json()["rest"][0]
    for resource in rest["resource"]:
        kind = resource["type"]
        codes = {i["code"] for i in resource["interaction"]}
        if "search-type" in codes:
            response = await client.get(f"{FHIR}/{kind}", params={"_count": "1"})
            assert response.status_code == 200, (kind, response.text)
            found = response.json()["entry"][0]["resource"]
            if "read" in codes:
                read = await client.get(f"{FHIR}/{kind}/{found['id']}")
                assert read.json() == found
        for op in resource.get("operation", []):
            if op["name"] == "export":  # type level, asynchronous
                kicked = await client.get(f"{FHIR}/{kind}/$export", headers=ASYNC)
                assert kicked.status_code == 202, kicked.text
                continue
            response = await client.get(f"{FHIR}/{kind}/{patient_id}/${op['name']}")
            assert response.status_code == 200, (op, response.text)
    for op in rest.get("operation", []):
        kicked = await client.get(f"{FHIR}/${op['name']}", headers=ASYNC)
        assert kicked.status_code == 202, kicked.text
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", rest.get("date", "2000-01-01"))


async def test_metadata_leaves_no_audit_row(
    anonymous_client: AsyncClient, client: AsyncClient
) -> None:
    def metadata_rows(items: list[dict[str, object]]) -> list[dict[str, object]]:
        return [a for a in items if str(a.get("route", "")).endswith("/metadata")]

    await anonymous_client.get(f"{FHIR}/metadata")
    await client.get(f"{FHIR}/Observation")  # an audited read, after it
    audit = (await client.get("/api/v1/audit", params={"limit": 100})).json()["items"]
    assert [a["route"] for a in audit] == ["/fhir/r4/Observation"]  # and nothing for metadata
    assert metadata_rows(audit) == []
