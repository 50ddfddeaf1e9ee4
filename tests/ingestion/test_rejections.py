"""Refused events are logged in a transaction of their own and read back beside accepted ones:
GET /events?status=rejected, ?event_id=, ?identifier= (the MRN)."""

import asyncio
import os
import sys
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from app.config import get_settings
from app.db import get_sessionmaker
from app.ingestion.jobs import REJECTIONS_PURGE
from app.ingestion.rejections import purge_rejections, rejection_row, write_rejections
from app.main import background_jobs
from app.models import EventRejection
from app.models.base import utcnow
from tests.audit.test_audit_trail import audit_of, my_credential
from tests.ingestion.helpers import EVENTS, SOURCE, count, pain, post, procedure


async def _items(client: AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(EVENTS, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_refused_event_outlives_the_rollback(client: AsyncClient) -> None:
    bad = pain("nc-0011", 14)
    refused = await post(client, bad)
    assert refused.status_code == 422, refused.text
    [item] = await _items(client, status="rejected")
    assert (item["source"], item["event_id"], item["type"]) == (SOURCE, "nc-0011", "pain.scored")
    assert item["status"] == "rejected" and item["payload"] == bad
    assert item["problem"]["type"] == refused.json()["type"]
    assert item["problem"]["errors"] == refused.json()["errors"]
    one = await client.get(f"{EVENTS}/{item['id']}")
    assert one.status_code == 200 and one.json()["status"] == "rejected"
    async with get_sessionmaker()() as session:
        row = (await session.scalars(select(EventRejection))).one()
    assert str(row.credential_id) == await my_credential(client)
    assert len(row.payload_hash) == 64


async def test_event_id_finds_the_accepted_and_the_conflicting_send(client: AsyncClient) -> None:
    assert (await post(client, pain("e1", 3))).status_code == 201
    conflict = await post(client, pain("e1", 4))
    assert conflict.status_code == 409, conflict.text
    items = await _items(client, event_id="e1")
    assert [i["status"] for i in items] == ["applied", "rejected"]
    assert items[1]["problem"]["type"] == "/problems/event-conflict"
    assert items[1]["payload"]["data"]["value"] == 4


async def test_batch_rejections_and_the_mrn_lookup(client: AsyncClient) -> None:
    batch = {
        "events": [
            procedure("r1", "OR-1", ["T12"], mrn="MRN-7"),
            procedure("r2", "OR-2", ["T12", "T13", "Q9"], mrn="MRN-7"),
            pain("p1", 3, at="2019-02-20T10:00:00", mrn="MRN-7"),  # no zone
            pain("p2", 3, mrn="MRN-8"),
        ]
    }
    results = (await post(client, batch)).json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected", "rejected", "created"]
    mine = await _items(client, identifier="MRN-7")
    assert [(i["event_id"], i["status"]) for i in mine] == [
        ("r1", "applied"),
        ("r2", "rejected"),
        ("p1", "rejected"),
    ]
    assert {e["field"] for e in mine[1]["problem"]["errors"]} == {
        "data.levels.1.level",
        "data.levels.2.level",
    }
    # one page at a time across both: accepted first, then rejected
    first = await client.get(EVENTS, params={"identifier": "MRN-7", "limit": 1})
    second = await client.get(
        EVENTS, params={"identifier": "MRN-7", "limit": 2, "cursor": first.json()["next_cursor"]}
    )
    assert [i["event_id"] for i in second.json()["items"]] == ["r2", "p1"]
    assert "next_cursor" not in second.json()
    # other statuses leave the rejections out
    assert [i["event_id"] for i in await _items(client, status="applied")] == ["r1", "p2"]


async def test_rejected_reads_are_audited(client: AsyncClient) -> None:
    await post(client, pain("x1", 99))
    read = await client.get(EVENTS, params={"status": "rejected"})
    assert read.status_code == 200 and read.json()["items"]
    rows = await audit_of(client, read)
    assert rows and rows[0]["route"].endswith("/events")


async def test_a_failed_side_write_is_logged_not_raised() -> None:
    row = rejection_row({"source": "s", "event_id": "e"}, {"status": 422}, None)
    row["payload_hash"] = None  # NOT NULL: the write fails
    await write_rejections([row])
    assert await count(EventRejection) == 0


async def _an_old_and_a_new_rejection(client: AsyncClient) -> None:
    """Two refused events, "old" received 91 days ago and "new" now."""
    await post(client, pain("old", 99))
    await post(client, pain("new", 99))
    async with get_sessionmaker()() as session:
        old = await session.scalars(select(EventRejection).where(EventRejection.event_id == "old"))
        old.one().received_at = utcnow() - timedelta(days=91)
        await session.commit()


async def test_purge_keeps_the_retention(client: AsyncClient) -> None:
    await _an_old_and_a_new_rejection(client)
    async with get_sessionmaker()() as session:
        assert await purge_rejections(session, 90) == 1
        await session.commit()
    assert [i["event_id"] for i in await _items(client, status="rejected")] == ["new"]


async def test_the_purge_command(client: AsyncClient) -> None:
    """`purge-rejections` in a process of its own, against this test's database."""
    await post(client, pain("old", 99))
    async with get_sessionmaker()() as session:
        (await session.scalars(select(EventRejection))).one().received_at = utcnow() - timedelta(
            days=8
        )
        await session.commit()
    code = (  # wired as app/cli.py wires its groups: `vertebro events purge-rejections`
        "import typer; from app.ingestion.cli import events_app; root = typer.Typer(); "
        "root.add_typer(events_app, name='events'); "
        "root(['events', 'purge-rejections', '--days', '7'])"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=dict(os.environ), stderr=asyncio.subprocess.PIPE
    )
    _out, err = await proc.communicate()
    assert "deleted 1 rejected events older than 7 days" in err.decode(), err.decode()
    assert await count(EventRejection) == 0


async def test_the_api_process_purges_old_rejections_in_the_background(
    client: AsyncClient,
) -> None:
    """No cron needed: the API's background jobs include the purge (app.ingestion.jobs)."""
    await _an_old_and_a_new_rejection(client)
    settings = get_settings()
    background = background_jobs(get_sessionmaker(), settings)
    assert REJECTIONS_PURGE.name in {job.name for job in background.jobs}
    background.start()
    try:
        for _ in range(200):
            if await count(EventRejection) == 1:
                break
            await asyncio.sleep(0.05)
    finally:
        await background.close()
    assert [i["event_id"] for i in await _items(client, status="rejected")] == ["new"]
