"""Validation problems in the registry's own words: pydantic's prefixes gone, every bad level
named, JSON syntax errors located, a short human title per type."""

from typing import Any

from httpx import AsyncClient

from tests.ingestion.helpers import EVENTS, event, pain, post, procedure


def _errors(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in body.get("errors", [])}


async def test_json_syntax_error_names_line_and_column(client: AsyncClient) -> None:
    raw = b'{\n  "source": "x",\n  "event_id": oops\n}'
    response = await client.post(EVENTS, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "/problems/malformed-json"
    assert body["title"] == "Malformed JSON"
    [issue] = body["errors"]
    assert issue["field"] == "body"
    assert "line 3, column 15" in issue["message"], issue


async def test_every_bad_level_of_a_procedure_is_reported(client: AsyncClient) -> None:
    response = await post(client, procedure("e1", "P-1", ["T12", "T13", "Q9"]))
    assert response.status_code == 422, response.text
    body = response.json()
    errors = _errors(body)
    assert set(errors) == {"data.levels.1.level", "data.levels.2.level"}, body
    assert "anatomical variant" in errors["data.levels.1.level"]
    assert "'Q9' is not a vertebral level" in errors["data.levels.2.level"]
    assert body["title"] == "Invalid input"


async def test_one_bad_level_keeps_its_own_type(client: AsyncClient) -> None:
    response = await post(client, procedure("e1", "P-1", ["T12", "Q9"]))
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/unknown-level"
    assert response.json()["title"] == "Unknown vertebral level"


async def test_validator_messages_lose_pydantics_prefix(client: AsyncClient) -> None:
    response = await post(client, pain("e1", 3, at="2999-01-01T10:00:00Z"))
    assert response.status_code == 422, response.text
    messages = list(_errors(response.json()).values())
    assert messages, response.text
    assert not any(m.startswith(("Value error", "Assertion failed")) for m in messages), messages
    assert all(m[:1].isupper() for m in messages), messages


async def test_batch_echoes_what_it_can_read_of_a_refused_envelope(client: AsyncClient) -> None:
    no_zone = pain("e-nozone", 3, at="2019-02-20T10:00:00")
    unreadable = [1, 2]
    response = await post(client, {"events": [no_zone, unreadable, event("x.y", "e-2")]})
    assert response.status_code == 200, response.text
    first, second, third = response.json()["results"]
    assert first["status"] == "rejected"
    assert (first["source"], first["event_id"], first["type"]) == (
        no_zone["source"], "e-nozone", "pain.scored"
    )  # fmt: skip
    assert second["status"] == "rejected" and "event_id" not in second
    assert (third["event_id"], third["type"]) == ("e-2", "x.y")
    assert third["problem"]["type"] == "/problems/unknown-type"
