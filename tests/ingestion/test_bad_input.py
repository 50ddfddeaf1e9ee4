"""Bad input, one case at a time: each gets a clear problem+json, and nothing is stored."""

from typing import Any

import pytest
from httpx import AsyncClient, Response

from app.models import EventLog, FollowUpEvent, Patient
from tests.ingestion.helpers import EVENTS, count, event, pain, post, procedure


async def _nothing_stored() -> None:
    assert await count(EventLog) == 0
    assert await count(Patient) == 0
    assert await count(FollowUpEvent) == 0


def _problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{code}"
    assert body["status"] == status and body["detail"]
    return body


def _fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


async def test_malformed_json(client: AsyncClient) -> None:
    response = await client.post(
        EVENTS, content=b'{"source": "x",', headers={"content-type": "application/json"}
    )
    _problem(response, 400, "malformed-json")
    await _nothing_stored()


async def test_unknown_type(client: AsyncClient) -> None:
    body = _problem(
        await post(client, event("pain.measured", "e1", {"value": 3})), 422, "unknown-type"
    )
    assert _fields(body) == {"type"}
    assert "pain.scored" in body["errors"][0]["message"]
    await _nothing_stored()


async def test_missing_type(client: AsyncClient) -> None:
    raw = pain("e1", 3)
    del raw["type"]
    assert _fields(_problem(await post(client, raw), 422, "missing-type")) == {"type"}
    await _nothing_stored()


@pytest.mark.parametrize("missing", ["source", "event_id", "occurred_at", "patient"])
async def test_missing_envelope_fields(client: AsyncClient, missing: str) -> None:
    raw = pain("e1", 3)
    del raw[missing]
    assert _fields(_problem(await post(client, raw), 422, "validation-error")) == {missing}
    await _nothing_stored()


async def test_missing_data_field(client: AsyncClient) -> None:
    raw = event("pain.scored", "e1", {"scale": "nrs11"})
    assert _fields(_problem(await post(client, raw), 422, "validation-error")) == {"data.value"}
    await _nothing_stored()


async def test_extra_envelope_field(client: AsyncClient) -> None:
    raw = {**pain("e1", 3), "priority": "high"}
    assert _fields(_problem(await post(client, raw), 422, "validation-error")) == {"priority"}
    await _nothing_stored()


async def test_extra_data_field(client: AsyncClient) -> None:
    raw = pain("e1", 3, data={"mood": "ok"})
    assert _fields(_problem(await post(client, raw), 422, "validation-error")) == {"data.mood"}
    await _nothing_stored()


async def test_naive_timestamp(client: AsyncClient) -> None:
    body = _problem(
        await post(client, pain("e1", 3, at="2019-02-20T10:00:00")), 422, "validation-error"
    )
    assert _fields(body) == {"occurred_at"}
    assert "timezone" in body["errors"][0]["message"]
    await _nothing_stored()


async def test_future_timestamp(client: AsyncClient) -> None:
    body = _problem(
        await post(client, pain("e1", 3, at="2999-01-01T00:00:00Z")), 422, "validation-error"
    )
    assert _fields(body) == {"occurred_at"}
    await _nothing_stored()


async def test_pain_eleven(client: AsyncClient) -> None:
    body = _problem(await post(client, pain("e1", 11)), 422, "score-out-of-range")
    assert body["errors"] == [{"field": "data.value", "message": "nrs11 is 0-10; got 11."}]
    await _nothing_stored()


async def test_unknown_vertebral_level(client: AsyncClient) -> None:
    body = _problem(await post(client, procedure("p1", "OR-1", ["T7", "X9"])), 422, "unknown-level")
    assert _fields(body) == {"data.levels.1.level"}
    await _nothing_stored()


async def test_a_variant_level_must_be_flagged(client: AsyncClient) -> None:
    response = await post(client, procedure("p1", "OR-1", ["T13"]))
    _problem(response, 422, "variant-not-flagged")
    await _nothing_stored()


async def test_batch_over_the_limit(client: AsyncClient) -> None:
    events = [pain(f"e{i}", 3) for i in range(1001)]
    body = _problem(await post(client, {"events": events}), 413, "batch-too-large")
    assert _fields(body) == {"events"}
    assert "1000" in body["detail"]
    await _nothing_stored()


async def test_body_over_the_size_limit(client: AsyncClient) -> None:
    huge = pain("e1", 3, data={"note": "x" * 3000})
    body = {"events": [{**huge, "event_id": f"e{i}"} for i in range(1500)]}  # about 5 MB
    _problem(await post(client, body), 413, "content-too-large")
    await _nothing_stored()


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_wrong_content_type(client: AsyncClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(EVENTS, content=b'{"events": []}', headers=headers)
    _problem(response, 415, "unsupported-media-type")
    await _nothing_stored()


@pytest.mark.parametrize(
    "body",
    [
        [],
        [pain("e1", 3)],
        "pain",
        {"events": []},
        {"events": "e1"},
        {"events": [pain("e1", 3)], "x": 1},
    ],
    ids=["empty list", "list", "string", "empty batch", "events not a list", "batch with extra"],
)
async def test_neither_an_event_nor_a_batch(client: AsyncClient, body: Any) -> None:
    response = await post(client, body)
    problem = _problem(response, 422, "validation-error")
    assert _fields(problem) <= {"body", "events"}
    await _nothing_stored()


async def test_a_refused_event_creates_no_patient_even_in_a_batch(client: AsyncClient) -> None:
    response = await post(
        client, {"events": [pain("e1", 11, mrn="NEW-1"), pain("e2", 3, mrn="NEW-2")]}
    )
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["rejected", "created"]
    assert await count(Patient) == 1
    assert await count(EventLog) == 1
