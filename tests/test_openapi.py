"""/docs teaches an integrator the API: metadata, tags, and an example on every request body."""

from typing import Any

from httpx import AsyncClient


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        resolved: dict[str, Any] = spec["components"]["schemas"][name]
        return resolved
    return schema


def _has_example(schema: dict[str, Any], spec: dict[str, Any]) -> bool:
    schema = _resolve(schema, spec)
    if schema.get("examples") or schema.get("example"):
        return True
    variants = schema.get("oneOf") or schema.get("anyOf")
    if variants:
        return all(_has_example(v, spec) for v in variants)
    return False


async def test_openapi_metadata(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Vertebroplasty Outcomes Registry"
    assert spec["info"]["version"] and len(spec["info"]["description"]) > 200
    declared = {t["name"] for t in spec["tags"]}
    used = {
        tag for path in spec["paths"].values() for op in path.values() for tag in op.get("tags", [])
    }
    assert used <= declared


async def test_every_request_body_has_an_example(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    missing = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            body = op.get("requestBody", {}).get("content", {})
            for media in body.values():
                documented = media.get("example") or media.get("examples")
                if not documented and not _has_example(media["schema"], spec):
                    missing.append(f"{method.upper()} {path}")
    assert missing == []


async def test_errors_are_documented_as_problem_json(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/patients/{patient_id}"]["get"]
    assert "application/problem+json" in operation["responses"]["404"]["content"]
