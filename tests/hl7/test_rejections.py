"""A message answered AE or AR is accounted for like a refused JSON event: one row in the
rejection log (GET /events?status=rejected), with MSH-4 as the source, MSH-10 as the event id,
the message type, the patient of PID-3 when it can be read, the raw message and its hash, the
ERR segments as the problem's errors, and the credential that sent it."""

from httpx import AsyncClient

from tests.hl7.helpers import message, msh, obx, pid, send

AT = "20190303100000+0000"


async def _rejected(client: AsyncClient, **query: str) -> list[dict[str, object]]:
    answer = await client.get("/api/v1/events", params={"status": "rejected", **query})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


async def test_an_ae_message_is_in_the_rejection_log(client: AsyncClient) -> None:
    text = message(msh("ORU^R01", "ORU-AE-1"), pid(), obx(1, "72514-3", "11", AT))
    assert (await send(client, text)).code == "AE"
    (row,) = await _rejected(client, event_id="ORU-AE-1")
    assert row["source"] == "BCCH" and row["type"] == "ORU^R01"
    assert row["payload"] == {"hl7v2": text}
    problem = row["problem"]
    assert isinstance(problem, dict)
    assert problem["type"].endswith("/hl7v2-application-error") and problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == ["OBX^1^5"]
    # found by the patient's MRN too, as the JSON door's refusals are
    (by_mrn,) = await _rejected(client, identifier="MRN-1")
    assert by_mrn["event_id"] == "ORU-AE-1"


async def test_an_ar_message_is_in_the_rejection_log(client: AsyncClient) -> None:
    assert (await send(client, message(msh("SIU^S12", "SIU-AR-1"), pid()))).code == "AR"
    assert (await send(client, "hello")).code == "AR"
    rows = await _rejected(client)
    by_id = {row.get("event_id"): row for row in rows}
    assert set(by_id) == {"SIU-AR-1", None}
    problem = by_id["SIU-AR-1"]["problem"]
    assert isinstance(problem, dict)
    assert problem["type"].endswith("/hl7v2-application-reject") and problem["status"] == 400
    assert [e["field"] for e in problem["errors"]] == ["MSH^1^9^1^1"]


async def test_an_accepted_message_leaves_no_rejection(client: AsyncClient) -> None:
    text = message(msh("ORU^R01", "ORU-AA-1"), pid(), obx(1, "72514-3", "5", AT))
    assert (await send(client, text)).code == "AA"
    assert (await send(client, text)).code == "AA"  # a replay is not a refusal either
    assert await _rejected(client) == []
