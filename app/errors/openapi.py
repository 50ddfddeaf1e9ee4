"""The OpenAPI documentation hook: the schema says what the handlers answer."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from app.errors.rendering import PROBLEM_JSON, Problem, rendered_elsewhere

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_REPLACED_SCHEMAS = ("#/components/schemas/Problem", "#/components/schemas/HTTPValidationError")
_OPEN_PATHS = ("/health", "/ready")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem statuses a route can return."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }


def _problem_doc(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
    }


def _conditional(operation: dict[str, Any]) -> bool:
    return any(
        p.get("in") == "header" and str(p.get("name", "")).lower() == "if-match"
        for p in operation.get("parameters", [])
    )


def _statuses_added(path: str, operation: dict[str, Any]) -> list[int]:
    """What every route of a kind can answer besides what it declares: a request body can be
    malformed JSON (400) or too large (413); a guarded route refuses a missing or bad credential
    (401), a credential without its scopes (403) and a credential over its rate (429); a route
    that takes If-Match refuses a stale version (412) and an update without it (428); any route
    that reads the database can answer 503."""
    added = [400, 413] if "requestBody" in operation else []
    if operation.get("security"):
        added += [401, 403, 429]
    if _conditional(operation):
        added += [412, 428]
    if path not in _OPEN_PATHS:
        added.append(503)
    return added


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI schema say what the handlers answer: error responses are
    `application/problem+json` with the Problem schema (FastAPI documents its own 422 body and
    `application/json` otherwise), plus the statuses every route of a kind can answer
    (`_statuses_added`). Paths whose errors have another renderer (the FHIR door) document
    their own."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        spec.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        for path, operations in spec.get("paths", {}).items():
            if rendered_elsewhere(path):
                continue
            for operation in operations.values():
                responses: dict[str, Any] = operation.setdefault("responses", {})
                for status, response in responses.items():
                    content = response.get("content", {})
                    schema = content.get("application/json", {}).get("schema", {})
                    if status[:1] in "45" and schema.get("$ref") in _REPLACED_SCHEMAS:
                        response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
                for status_code in _statuses_added(path, operation):
                    responses.setdefault(str(status_code), _problem_doc(status_code))
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
