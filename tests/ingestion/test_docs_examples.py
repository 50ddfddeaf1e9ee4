"""Every request example of the event and FHIR doors in /openapi.json, posted in order against a
fresh registry, is accepted: one story (one MRN, one procedure reference, distinct event ids).
The FHIR resources posted alone are
the Bundle's again (answered as replays), and their procedure is the events' procedure.
The per-type examples come first (the event types in the order the schema lists them), then the
request examples of POST /events, then the FHIR door's, in the order of the paths."""

from collections.abc import Iterator
from typing import Any

from httpx import AsyncClient

EVENTS = "/api/v1/events"
FHIR = "/fhir/r4/"


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not ref:
        return schema
    found: dict[str, Any] = spec
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def _type_examples(spec: dict[str, Any], content: dict[str, Any]) -> Iterator[dict[str, Any]]:
    body = _resolve(spec, content["schema"])
    for option in body.get("anyOf", body.get("oneOf", [])):
        event = _resolve(spec, option)
        for variant in event.get("oneOf", event.get("anyOf", [])):
            yield from _resolve(spec, variant).get("examples", [])


def examples(spec: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(path, media type, body) of every example to post, in order."""
    found: list[tuple[str, str, Any]] = []
    events = spec["paths"][EVENTS]["post"]["requestBody"]["content"]
    for media, content in events.items():
        found += [(EVENTS, media, body) for body in _type_examples(spec, content)]
        found += [(EVENTS, media, ex["value"]) for ex in content.get("examples", {}).values()]
    for path, item in spec["paths"].items():
        if not path.startswith(FHIR) or "post" not in item:
            continue
        for media, content in item["post"].get("requestBody", {}).get("content", {}).items():
            found += [(path, media, ex["value"]) for ex in content.get("examples", {}).values()]
    return found


async def test_every_example_posted_in_order_is_accepted(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    posted = examples(spec)
    kinds = {body.get("type") for path, _media, body in posted if path == EVENTS}
    assert len(kinds) >= 12, kinds  # the per-type examples were found
    assert any(path.startswith(FHIR) for path, _media, _body in posted)
    event_ids: list[str] = []
    for path, media, body in posted:
        if path == EVENTS:
            event_ids += [e["event_id"] for e in body.get("events", [body])]
        response = await client.post(path, json=body, headers={"Content-Type": media})
        assert response.status_code in (200, 201, 202), (path, body, response.text)
        results = response.json().get("results", [])
        assert all(r["status"] == "created" for r in results), results
        if path == EVENTS:  # the FHIR resources alone are the Bundle's again: replayed
            assert response.headers.get("Idempotent-Replayed") is None, (path, body)
    assert len(event_ids) == len(set(event_ids)), event_ids
    # one story: a single patient, and the FHIR examples' procedure is the events' procedure
    patients = (await client.get("/api/v1/patients")).json()["items"]
    assert len(patients) == 1, patients
    procedures = (await client.get("/api/v1/procedures")).json()["items"]
    kinds_done = sorted(p["kind"] for p in procedures)
    assert kinds_done == ["radiotherapy", "vertebroplasty"], procedures  # not recorded twice
