"""The CapabilityStatement of GET /fhir/r4/metadata, read from the routes actually mounted, so
that it cannot say what the server does not do (tests/fhir/test_capability.py walks the
routes and the statement both ways).

  POST {prefix}/Bundle                  -> rest.interaction batch, transaction
  POST {prefix}/{Type}                  -> create (conditional, If-None-Exist)
  GET  {prefix}/{Type}                  -> search-type, with search.SEARCH_PARAMETERS[Type]
  GET  {prefix}/{x}/{id}, x: Literal    -> read, for each type the Literal allows
  GET  {prefix}/{Type}/{id}/$op         -> operation op (OPERATION_DEFINITIONS names it)
  GET  {prefix}/{Type}/$op              -> a type-level operation (Patient/$export)
  GET  {prefix}/$op                     -> a system-level operation ($export)
The Bulk Data protocol's own URLs ($export-status, $export-files) are no operations.
"""

import re
import typing
from collections.abc import Iterable
from datetime import date
from typing import Any

from fastapi.routing import RouteContext

from app.ingestion.fhir.outcome import FHIR_JSON
from app.ingestion.fhir.search import INCLUDES, SEARCH_PARAMETERS

# the canonical URL of each operation's definition: R4's own, or the registry's
OPERATION_DEFINITIONS = {
    "everything": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
    "transfer": "urn:vertebro:OperationDefinition:Patient-transfer",
    "export": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
}
SYSTEM_OPERATION_DEFINITIONS = {
    "export": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
}
BULK_PROTOCOL_PATHS = ("/$export-status/", "/$export-files/")
OPERATION_DOCS = {
    "everything": "R4 Patient-everything: a searchset (_since, _type, _count, next links).",
    "transfer": "The case as a transaction Bundle that POST Bundle takes back unchanged "
    "(registry-to-registry transfer; not Bulk Data $export).",
    "export": "Bulk Data export (Prefer: respond-async; _type, _since, _outputFormat): a "
    "status URL, then one NDJSON file per type (docs/fhir-bulk.md).",
}
SECURITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/restful-security-service"
_TYPE = r"(?P<type>[A-Z][A-Za-z]+)"
_PARAM = r"\{(?P<param>[a-z_]+)\}"
_ID = r"\{[a-z_]+\}"


def _literal_types(route: RouteContext, name: str) -> tuple[str, ...]:
    for param in route.dependant.path_params:
        if param.name == name:
            return tuple(str(a) for a in typing.get_args(param.field_info.annotation))
    return ()


def _interactions(routes: Iterable[RouteContext], prefix: str) -> dict[str, Any]:
    """type -> {"interaction": set, "operation": set}; "" for the system level."""
    found: dict[str, dict[str, set[str]]] = {}

    def add(resource_type: str, what: str, code: str) -> None:
        entry = found.setdefault(resource_type, {"interaction": set(), "operation": set()})
        entry[what].add(code)

    for route in routes:
        path = str(route.path).removeprefix(prefix)
        methods = route.methods or set()
        if path.startswith(BULK_PROTOCOL_PATHS):
            continue
        if match := re.fullmatch(r"/\$(?P<op>[a-z-]+)", path):
            add("", "operation", match["op"])
        elif match := re.fullmatch(rf"/{_TYPE}/\$(?P<op>[a-z-]+)", path):
            add(match["type"], "operation", match["op"])
        elif path == "/Bundle" and "POST" in methods:
            add("", "interaction", "batch")
            add("", "interaction", "transaction")
        elif match := re.fullmatch(rf"/{_TYPE}", path):
            if "POST" in methods:
                add(match["type"], "interaction", "create")
            if "GET" in methods:
                add(match["type"], "interaction", "search-type")
        elif match := re.fullmatch(rf"/{_PARAM}/{_ID}", path):
            for resource_type in _literal_types(route, match["param"]):
                add(resource_type, "interaction", "read")
        elif match := re.fullmatch(rf"/{_TYPE}/{_ID}/\$(?P<op>[a-z-]+)", path):
            add(match["type"], "operation", match["op"])
    return found


def _resource(resource_type: str, found: dict[str, set[str]]) -> dict[str, Any]:
    interactions = sorted(found["interaction"])
    resource: dict[str, Any] = {
        "type": resource_type,
        "interaction": [{"code": code} for code in interactions],
    }
    if "create" in interactions:
        resource["conditionalCreate"] = True
    if "search-type" in interactions:
        resource["searchParam"] = [
            {"name": name, "type": kind, "documentation": doc}
            for name, kind, doc in SEARCH_PARAMETERS[resource_type]
        ]
        if resource_type in INCLUDES:
            resource["searchInclude"] = list(INCLUDES[resource_type])
    if found["operation"]:
        resource["operation"] = [
            {
                "name": op,
                "definition": OPERATION_DEFINITIONS[op],
                "documentation": OPERATION_DOCS[op],
            }
            for op in sorted(found["operation"])
        ]
    return resource


def _system_operations(operations: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": op,
            "definition": SYSTEM_OPERATION_DEFINITIONS[op],
            "documentation": OPERATION_DOCS[op],
        }
        for op in sorted(operations)
    ]


def capability_statement(
    routes: Iterable[RouteContext], prefix: str, base: str, version: str, oauth2: bool, cors: bool
) -> dict[str, Any]:
    found = _interactions(routes, prefix)
    system = found.pop("", {"interaction": set(), "operation": set()})
    services: list[dict[str, Any]] = [
        {"text": "API key: Authorization: Bearer <key>, or X-API-Key"}
    ]
    if oauth2:
        services.insert(0, {"coding": [{"system": SECURITY_SYSTEM, "code": "OAuth"}]})
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date.today().isoformat(),
        "publisher": "vertebro registry",
        "kind": "instance",
        "software": {"name": "vertebro registry", "version": version},
        "implementation": {"description": "The registry's FHIR R4 door", "url": base},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": cors,
                    "service": services,
                    "description": "Every interaction but this statement needs a credential: "
                    "reads and searches the scope cases:read, creates and Bundles events:write"
                    + (", as an API key or an OAuth2 bearer token." if oauth2 else "."),
                },
                "resource": [_resource(t, found[t]) for t in sorted(found)],
                "interaction": [{"code": code} for code in sorted(system["interaction"])],
                # (FHIR allows no empty array: the element only when there is an operation)
                **(
                    {"operation": _system_operations(system["operation"])}
                    if system["operation"]
                    else {}
                ),
            }
        ],
    }
