"""Every route of the application, read from its OpenAPI schema, refuses a request without a
credential (401), with a bad one (401) and with one lacking the route's scopes (403). A route
added later is covered the day it appears: nothing here lists routes by hand."""

import uuid
from collections.abc import Iterator
from typing import Any

from httpx import AsyncClient

from app.auth import scopes
from tests.conftest import ScopedClient

OPEN_PATHS = {"/health", "/ready", "/fhir/r4/metadata"}  # FHIR clients read metadata first
# problem+json, or an OperationOutcome on the FHIR door (FHIR's own error format)
ERROR_TYPES = {"application/problem+json", "application/fhir+json"}
BAD_KEY = "vtb_abcdefgh_" + "A" * 43  # well-formed, unknown


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, op


def _required_scopes(op: dict[str, Any]) -> set[str]:
    return {s for requirement in op.get("security", []) for ss in requirement.values() for s in ss}


def _url(path: str, op: dict[str, Any]) -> str:
    for param in op.get("parameters", []):
        if param["in"] != "path":
            continue
        schema = param.get("schema", {})
        value = {"integer": "1", "number": "1"}.get(schema.get("type", ""), "x")
        if schema.get("format") == "uuid":
            value = str(uuid.uuid4())
        path = path.replace("{" + param["name"] + "}", value)
    return path


def _body(op: dict[str, Any]) -> dict[str, Any]:
    content = op.get("requestBody", {}).get("content")
    if not content:
        return {}
    media = next(iter(content))
    return {"content": b"{}", "headers": {"Content-Type": media}}


def _media(response: Any) -> str:
    return str(response.headers.get("content-type", "")).split(";")[0].strip()


async def _call(
    client: AsyncClient, method: str, path: str, op: dict[str, Any], headers: dict[str, str]
) -> Any:
    request = _body(op)
    return await client.request(
        method.upper(),
        _url(path, op),
        content=request.get("content"),
        headers={**request.get("headers", {}), **headers},
    )


async def test_every_route_but_health_requires_a_credential_with_its_scopes(
    anonymous_client: AsyncClient, scoped_client: ScopedClient
) -> None:
    spec = (await anonymous_client.get("/openapi.json")).json()
    checked = []
    failures = []
    for path, method, op in _operations(spec):
        name = f"{method.upper()} {path}"
        required = _required_scopes(op)
        if path in OPEN_PATHS:
            assert not op.get("security"), f"{name} should stay open"
            continue
        if not required:
            failures.append(f"{name}: declares no scope (take an alias of app.http.guards)")
            continue
        assert required <= scopes.ALL_SCOPES, f"{name}: unknown scopes {required}"
        for label, headers in (
            ("no credential", {}),
            ("unknown key", {"Authorization": f"Bearer {BAD_KEY}"}),
            ("unknown X-API-Key", {"X-API-Key": BAD_KEY}),
            ("malformed bearer", {"Authorization": "Bearer not-a-credential"}),
        ):
            response = await _call(anonymous_client, method, path, op, headers)
            if response.status_code != 401 or _media(response) not in ERROR_TYPES:
                failures.append(f"{name} with {label}: {response.status_code}")
            elif "Bearer" not in response.headers.get("www-authenticate", ""):
                failures.append(f"{name} with {label}: no WWW-Authenticate")
        lacking = scopes.without(required)
        async with scoped_client(*sorted(lacking)) as client:
            response = await _call(client, method, path, op, {})
        if response.status_code != 403 or _media(response) not in ERROR_TYPES:
            failures.append(f"{name} without {sorted(required)}: {response.status_code}")
        elif "insufficient_scope" not in response.headers["www-authenticate"]:
            failures.append(f"{name}: 403 without the insufficient_scope challenge")
        checked.append(name)
    assert failures == []
    assert len(checked) >= 25  # the registry's own routes, plus whatever others add


async def test_health_readiness_and_docs_stay_open(anonymous_client: AsyncClient) -> None:
    for path in ("/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"):
        response = await anonymous_client.get(path)
        assert response.status_code == 200, path


async def test_routes_take_the_scopes_they_declare(anonymous_client: AsyncClient) -> None:
    paths = (await anonymous_client.get("/openapi.json")).json()["paths"]
    assert _required_scopes(paths["/api/v1/patients"]["get"]) == {"cases:read"}
    assert _required_scopes(paths["/api/v1/patients"]["post"]) == {"cases:write"}
    assert _required_scopes(paths["/api/v1/follow-ups/{event_id}"]["put"]) == {"cases:write"}
    assert _required_scopes(paths["/api/v1/cases/{patient_id}"]["get"]) == {"cases:read"}
    assert _required_scopes(paths["/api/v1/api-keys"]["post"]) == {"admin"}
    assert _required_scopes(paths["/api/v1/audit"]["get"]) == {"admin"}


async def test_openapi_offers_both_ways_to_authorize(anonymous_client: AsyncClient) -> None:
    spec = (await anonymous_client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    assert schemes["Bearer"]["scheme"] == "bearer"
    operation = spec["paths"]["/api/v1/patients"]["get"]
    # either scheme satisfies the route (two alternatives, each with the scope)
    assert {"ApiKey": ["cases:read"]} in operation["security"]
    assert {"Bearer": ["cases:read"]} in operation["security"]
    assert "401" in operation["responses"] and "403" in operation["responses"]


async def test_conditional_updates_document_412_and_428(anonymous_client: AsyncClient) -> None:
    paths = (await anonymous_client.get("/openapi.json")).json()["paths"]
    patch = paths["/api/v1/patients/{patient_id}"]["patch"]["responses"]
    assert {"412", "428"} <= set(patch)
    assert "428" not in paths["/api/v1/patients"]["post"]["responses"]


# --- external identifiers: one visibility rule for every representation ----------------------
FJ = {"Content-Type": "application/fhir+json"}
SECRETS = ("MRN-SECRET-1", "NAT-SECRET-2", "OR-SECRET-3", "OBS-SECRET-4", "REF-SECRET-5")
_MRN = {"system": "urn:test:mrn", "value": SECRETS[0]}


async def _seed_with_identifiers(client: AsyncClient) -> dict[str, str]:
    """A case whose every record carries a sender's identifier: a patient with two, a
    procedure and a pain score through the FHIR door, a procedure, a complication and a score
    through the events door (procedure_ref); returns the ids each path parameter takes."""
    responses = [
        await client.post(
            "/fhir/r4/Patient",
            json={
                "resourceType": "Patient",
                "identifier": [_MRN, {"system": "urn:test:national", "value": SECRETS[1]}],
                "birthDate": "2005-03-14",
                "gender": "female",
            },
            headers=FJ,
        ),
        await client.post(
            "/fhir/r4/Procedure",
            json={
                "resourceType": "Procedure",
                "identifier": [{"system": "urn:test:or", "value": SECRETS[2]}],
                "status": "completed",
                "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "22510"}]},
                "subject": {"identifier": _MRN},
                "performedDateTime": "2019-02-12T09:30:00Z",
                "bodySite": [{"text": "T7"}],
            },
            headers=FJ,
        ),
        await client.post(
            "/fhir/r4/Observation",
            json={
                "resourceType": "Observation",
                "identifier": [{"system": "urn:test:obs", "value": SECRETS[3]}],
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
                "subject": {"identifier": _MRN},
                "partOf": [{"identifier": {"system": "urn:test:or", "value": SECRETS[2]}}],
                "effectiveDateTime": "2019-02-19T10:00:00Z",
                "valueQuantity": {"value": 5},
            },
            headers=FJ,
        ),
    ]
    assert [r.status_code for r in responses] == [201] * 3, [r.text for r in responses]
    event = {
        "source": "urn:test:epic",
        "occurred_at": "2019-05-01T09:00:00Z",
        "patient": _MRN,
    }
    events = [
        {
            **event,
            "event_id": "p",
            "type": "procedure.performed",
            "data": {
                "procedure_ref": SECRETS[4],
                "kind": "vertebroplasty",
                "levels": [{"level": "L3"}],
            },
        },
        {
            **event,
            "event_id": "c",
            "type": "complication.reported",
            "data": {"procedure_ref": SECRETS[4], "kind": "pain_flare", "symptomatic": True},
        },
        *(
            {  # better, then worse again: an imaging trigger (rule B)
                **event,
                "event_id": f"s{day}",
                "type": "pain.scored",
                "occurred_at": f"2019-{day}T09:00:00Z",
                "data": {"scale": "nrs11", "value": value, "procedure_ref": SECRETS[4]},
            }
            for day, value in (("05-08", 3), ("05-15", 7))
        ),
        {**event, "event_id": "s0", "type": "pain.scored", "occurred_at": "2019-04-28T09:00:00Z",
         "data": {"scale": "nrs11", "value": 8}},
    ]  # fmt: skip
    batch = (await client.post("/api/v1/events", json={"events": events})).json()
    assert batch["created"] == len(events), batch
    ids = batch["results"]
    triggers = (await client.get("/api/v1/imaging-triggers")).json()["items"]
    return {
        "trigger_id": triggers[0]["id"],
        "patient_id": responses[0].json()["id"],
        "Patient": responses[0].json()["id"],
        "Procedure": responses[1].json()["id"],
        "Observation": responses[2].json()["id"],
        "procedure_id": ids[0]["ids"]["procedure_id"],
        "complication_id": ids[1]["ids"]["complication_id"],
        "event_id": ids[2]["ids"]["follow_up_id"],
    }


def _urls(path: str, op: dict[str, Any], ids: dict[str, str]) -> Iterator[str]:
    """The route filled with the seeded ids; an enumerated parameter (the FHIR resource type)
    once per value, with the id of that type."""
    params = [p for p in op.get("parameters", []) if p["in"] == "path"]
    choices = [p for p in params if p.get("schema", {}).get("enum")]
    for choice in choices[0]["schema"]["enum"] if choices else [None]:
        url = path
        for param in params:
            name = param["name"]
            fallback = ids.get(name, str(uuid.uuid4()))  # unseeded: 404, and still checked
            value = choice if param in choices else ids.get(str(choice), fallback)
            url = url.replace("{" + name + "}", str(value))
        yield url


async def test_no_route_shows_external_identifiers_to_cases_read(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    """Every GET route of the application, each read with a cases:read key on a case whose
    records all carry senders' identifiers: none of the identifier values appears in any body
    (REST, FHIR, $everything). A route added later is checked the day it appears."""
    ids = await _seed_with_identifiers(client)
    spec = (await client.get("/openapi.json")).json()
    full = (await client.get(f"/fhir/r4/Patient/{ids['patient_id']}/$everything")).text
    assert all(secret in full for secret in SECRETS)  # a credential that may see them, does
    shown: list[str] = []
    read: list[str] = []
    async with scoped_client(scopes.CASES_READ) as reader:
        for path, method, op in _operations(spec):
            if method != "get" or path in OPEN_PATHS:
                continue
            for url in _urls(path, op, ids):
                # (Prefer: what a Bulk Data kick-off needs; its files are checked in
                # tests/fhir/test_bulk_export.py)
                response = await reader.get(url, headers={"Prefer": "respond-async"})
                assert response.status_code in (200, 202, 403, 404), (url, response.text)
                if response.status_code == 200:
                    read.append(url)
                shown += [f"{url}: {s}" for s in SECRETS if s in response.text]
    assert shown == []
    patient = ids["patient_id"]
    must = {f"/fhir/r4/{kind}/{ids[kind]}" for kind in ("Patient", "Procedure", "Observation")}
    must |= {f"/fhir/r4/Patient/{patient}/$everything", f"/api/v1/cases/{patient}"}
    must |= {f"/api/v1/patients/{patient}", f"/api/v1/procedures/{ids['procedure_id']}"}
    assert must <= set(read)  # the case was there to be read: nothing above was vacuous
