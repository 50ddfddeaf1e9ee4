"""Every route of the application, read from its OpenAPI schema, refuses a request without a
credential (401), with a bad one (401) and with one lacking the route's scopes (403). A route
added later is covered the day it appears: nothing here lists routes by hand."""

import uuid
from collections.abc import Iterator
from typing import Any

from httpx import AsyncClient

from app.auth import scopes
from tests.conftest import ScopedClient

OPEN_PATHS = {"/health", "/ready"}
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
            failures.append(f"{name}: declares no scope (use app.auth.dependencies.require)")
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
    for path in ("/health", "/ready", "/docs", "/openapi.json"):
        response = await anonymous_client.get(path)
        assert response.status_code == 200, path


async def test_scopes_follow_the_method_on_clinical_routes(anonymous_client: AsyncClient) -> None:
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
