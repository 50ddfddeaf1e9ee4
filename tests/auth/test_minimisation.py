"""Data minimisation: external identifiers only for credentials that need them (cases:write,
events:write), searchable by exact value by everyone who reads cases; logs carry no
identifiers, names, free text or bodies."""

import logging
import sys

import pytest
from httpx import AsyncClient

from app.ingestion.fhir.router import OBSERVATION_EXAMPLE, PATIENT_EXAMPLE, PROCEDURE_EXAMPLE
from app.logs import RedactingFormatter
from tests.conftest import ScopedClient
from tests.factories import make_patient

MRN = {"system": "urn:example:mrn", "value": "MRN-0042"}


async def test_identifiers_are_shown_only_to_scopes_that_need_them(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    patient = await make_patient(client, identifiers=[MRN], notes="Jane Doe, lives nearby")
    url = f"/api/v1/patients/{patient['id']}"
    async with scoped_client("cases:read") as reader:
        read = (await reader.get(url)).json()
        found = (
            await reader.get("/api/v1/patients", params={"identifier_value": "MRN-0042"})
        ).json()["items"]
        case = (await reader.get(f"/api/v1/cases/{patient['id']}")).json()
        listed = (await reader.get("/api/v1/patients")).json()["items"]
    assert read["identifiers"] == [] and read["id"] == patient["id"]
    assert [p["id"] for p in found] == [patient["id"]]  # searchable by exact value
    assert found[0]["identifiers"] == [] and listed[0]["identifiers"] == []
    assert case["patient"]["identifiers"] == []
    for scope in ("cases:write", "events:write"):
        async with scoped_client(scope, "cases:read") as writer:
            shown = (await writer.get(url)).json()
        assert shown["identifiers"] == [MRN], scope


async def test_identifier_visibility_does_not_leak_between_requests(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    patient = await make_patient(client, identifiers=[MRN])
    url = f"/api/v1/patients/{patient['id']}"
    async with scoped_client("cases:read") as reader:
        assert (await reader.get(url)).json()["identifiers"] == []
    assert (await client.get(url)).json()["identifiers"] == [MRN]


async def test_logs_carry_no_identifiers_names_or_bodies(
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    patient = await make_patient(client, identifiers=[MRN], notes="Jane Doe, free text")
    await client.get("/api/v1/patients", params={"identifier_value": "MRN-0042"})
    await client.get(f"/api/v1/patients/{patient['id']}")
    access = [r.getMessage() for r in caplog.records if r.name == "vertebro.access"]
    assert "GET /api/v1/patients 200" in " ".join(access)
    assert any("/api/v1/patients/{patient_id}" in line for line in access)
    everything = "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    for secret in ("MRN-0042", "Jane Doe", "free text", patient["id"]):
        assert secret not in everything


def test_tracebacks_in_logs_withhold_exception_messages() -> None:
    formatter = RedactingFormatter("%(message)s")
    name, mrn = "Jane" + " Doe", "MRN" + "-0042"  # not in the source lines the trace shows
    try:
        try:
            raise KeyError(mrn)
        except KeyError as inner:
            raise ValueError(f"INSERT ... parameters: ('{name}',)") from inner
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    text = formatter.format(record)
    assert "ValueError" in text and "KeyError" in text and "test_minimisation.py" in text
    assert "Jane Doe" not in text and "MRN-0042" not in text


async def test_fhir_reads_follow_the_same_rule(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    """FHIR Patient, Procedure, Observation and $everything: the senders' identifiers for the
    same scopes as the REST API; for the others the registry's own (urn:vertebro:...), which
    name the records by id, also in the Bundle's conditional creates."""
    fhir = {"content-type": "application/fhir+json"}
    examples = {
        "Patient": PATIENT_EXAMPLE,
        "Procedure": PROCEDURE_EXAMPLE,
        "Observation": OBSERVATION_EXAMPLE,
    }
    created: dict[str, str] = {}
    for kind, resource in examples.items():
        response = await client.post(f"/fhir/r4/{kind}", json=resource, headers=fhir)
        assert response.status_code == 201, response.text
        created[kind] = response.json()["id"]
    own = {
        "Patient": "urn:vertebro:patient",
        "Procedure": "urn:vertebro:procedure",
        "Observation": "urn:vertebro:follow-up",
    }
    everything = f"/fhir/r4/Patient/{created['Patient']}/$transfer"
    async with scoped_client("cases:read") as reader:
        for kind, record_id in created.items():
            read = (await reader.get(f"/fhir/r4/{kind}/{record_id}")).json()
            assert read["identifier"] == [{"system": own[kind], "value": record_id}], kind
        bundle = (await reader.get(everything)).json()
    for entry in bundle["entry"]:
        kind, record_id = entry["resource"]["resourceType"], entry["resource"]["id"]
        assert entry["resource"]["identifier"] == [{"system": own[kind], "value": record_id}]
        assert entry["request"]["ifNoneExist"] == f"identifier={own[kind]}|{record_id}"
    for scopes in (("cases:write",), ("events:write", "cases:read")):
        async with scoped_client(*scopes) as writer:
            for kind, record_id in created.items():
                read = (await writer.get(f"/fhir/r4/{kind}/{record_id}")).json()
                assert read["identifier"] == examples[kind]["identifier"], (scopes, kind)
