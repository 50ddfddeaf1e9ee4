"""FHIR Bulk Data export ($export, the HL7 Bulk Data Access IG): kick-off 202 with a status
URL, 202 with X-Progress while it runs, 200 with the manifest when done, one NDJSON file per
type whose lines parse as R4 resources and whose counts are the registry's; _type, _since and
_outputFormat; only the asking credential sees the job; cancel, expiry, a lapsed runner's job
taken again, two runners racing for one job, downloads audited per patient, and the job run by
the API process's own background jobs."""

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from httpx import AsyncClient, Response
from sqlalchemy import select, update

from app.config import get_settings
from app.db import get_sessionmaker
from app.ingestion.fhir import bulk
from app.main import background_jobs
from app.models import AuditEvent, BulkExport
from app.models.base import utcnow
from tests.conftest import ScopedClient
from tests.fhir.helpers import FHIR, outcome, seed_case

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def _validate(kind: str, line: dict[str, Any]) -> None:
    """A valid R4 resource of its type (fhir.resources)."""
    get_fhir_model_class(kind).model_validate(line)


@pytest.fixture(autouse=True)
def export_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(get_settings(), "bulk_export_dir", tmp_path / "exports")
    return tmp_path / "exports"


def _folders(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


async def _kick_off(client: AsyncClient, path: str = "/$export", **params: str) -> str:
    answer = await client.get(f"{FHIR}{path}", params=params, headers=ASYNC)
    assert answer.status_code == 202, answer.text
    status: str = answer.headers["content-location"]
    assert status.startswith("http://test/fhir/r4/$export-status/")
    return status.removeprefix("http://test")


async def _run() -> int:
    return await bulk.run_pending(get_sessionmaker())


async def _manifest(client: AsyncClient, status: str) -> dict[str, Any]:
    answer = await client.get(status)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["requiresAccessToken"] is True and body["error"] == []
    return body


async def _lines(client: AsyncClient, url: str) -> list[dict[str, Any]]:
    answer = await client.get(url.removeprefix("http://test"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+ndjson")
    return [json.loads(line) for line in answer.text.splitlines()]


async def _everything_counts(client: AsyncClient, patients: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for patient in patients:
        page = (await client.get(f"{FHIR}/Patient/{patient}/$everything?_count=100")).json()
        for entry in page["entry"]:
            kind = entry["resource"]["resourceType"]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


async def test_the_whole_protocol(client: AsyncClient) -> None:
    patients = [await seed_case(client, f"MRN-{n}", "2005-03-14") for n in (1, 2, 3)]
    status = await _kick_off(client)
    waiting = await client.get(status)
    assert waiting.status_code == 202 and waiting.headers["x-progress"]
    assert int(waiting.headers["retry-after"]) > 0
    assert await _run() == 1
    manifest = await _manifest(client, status)
    assert manifest["request"].endswith("/fhir/r4/$export")
    found = {o["type"]: o for o in manifest["output"]}
    assert {t: o["count"] for t, o in found.items()} == await _everything_counts(client, patients)
    for kind, output in found.items():
        lines = await _lines(client, output["url"])
        assert len(lines) == output["count"]
        for line in lines:
            assert line["resourceType"] == kind
            _validate(kind, line)
    ids = {line["id"] for line in await _lines(client, found["Patient"]["url"])}
    assert ids == set(patients)


async def test_type_since_and_output_format(client: AsyncClient) -> None:
    await seed_case(client)
    only_patients = await _kick_off(client, "/Patient/$export", _type="Patient")
    future = await _kick_off(client, _since="2999-01-01T00:00:00Z")
    assert await _run() == 2
    assert [o["type"] for o in (await _manifest(client, only_patients))["output"]] == ["Patient"]
    assert (await _manifest(client, future))["output"] == []
    for params, name in (
        ({"_type": "Encounter"}, "_type"),
        ({"_outputFormat": "text/csv"}, "_outputFormat"),
        ({"_since": "yesterday"}, "_since"),
    ):
        refused = await client.get(f"{FHIR}/$export", params=params, headers=ASYNC)
        assert refused.status_code in (400, 422), refused.text
        assert name in json.dumps(outcome(refused, refused.status_code))
    no_prefer = await client.get(f"{FHIR}/$export")
    assert no_prefer.status_code in (400, 422) and "Prefer" in no_prefer.text
    async with get_sessionmaker()() as session:  # refused kick-offs leave no job
        assert len((await session.scalars(select(BulkExport))).all()) == 2


async def test_only_the_asking_credential_sees_the_job(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    await seed_case(client)
    status = await _kick_off(client)
    await _run()
    url = (await _manifest(client, status))["output"][0]["url"].removeprefix("http://test")
    async with scoped_client("cases:read") as other:
        assert (await other.get(status)).status_code == 404
        assert (await other.get(url)).status_code == 404
        assert (await other.delete(status)).status_code == 404
    async with scoped_client("stats:read") as statistician:
        assert (await statistician.get(f"{FHIR}/$export", headers=ASYNC)).status_code == 403


async def test_a_reader_without_identifier_scopes_gets_files_without_them(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    await seed_case(client, "MRN-SECRET")
    async with scoped_client("cases:read") as reader:
        status = await _kick_off(reader, _type="Patient")
        await _run()
        (output,) = (await _manifest(reader, status))["output"]
        text = (await reader.get(output["url"].removeprefix("http://test"))).text
    assert "MRN-SECRET" not in text


async def test_cancel_and_expiry_delete_the_job_and_its_files(
    client: AsyncClient, export_dir: Path
) -> None:
    await seed_case(client)
    cancelled, expiring = await _kick_off(client), await _kick_off(client)
    await _run()
    assert len(_folders(export_dir)) == 2
    assert (await client.delete(cancelled)).status_code == 202
    assert (await client.get(cancelled)).status_code == 404
    async with get_sessionmaker()() as session:
        await session.execute(update(BulkExport).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    assert (await client.get(expiring)).status_code == 404
    await _run()  # the purge
    assert _folders(export_dir) == []
    async with get_sessionmaker()() as session:
        assert (await session.scalars(select(BulkExport))).all() == []


async def test_a_job_whose_runner_died_is_taken_again(client: AsyncClient) -> None:
    await seed_case(client)
    status = await _kick_off(client)
    async with get_sessionmaker()() as session:
        assert await bulk.claim(session) is not None  # a runner took it, then died
    assert await _run() == 0  # its lease still holds
    async with get_sessionmaker()() as session:
        await session.execute(update(BulkExport).values(lease_until=utcnow()))
        await session.commit()
    assert await _run() == 1
    assert (await _manifest(client, status))["output"]


async def test_two_runners_racing_run_a_job_once(client: AsyncClient) -> None:
    await seed_case(client)
    status = await _kick_off(client)
    ran = await asyncio.gather(_run(), _run(), _run())
    assert sum(ran) == 1
    counts = {o["type"]: o["count"] for o in (await _manifest(client, status))["output"]}
    assert counts["Patient"] == 1


async def test_a_download_is_audited_for_every_patient_in_it(client: AsyncClient) -> None:
    patients = {await seed_case(client, f"MRN-{n}") for n in (1, 2)}
    status = await _kick_off(client, _type="Patient")
    await _run()
    (output,) = (await _manifest(client, status))["output"]
    answer: Response = await client.get(output["url"].removeprefix("http://test"))
    assert answer.status_code == 200
    async with get_sessionmaker()() as session:
        rows = (
            await session.scalars(select(AuditEvent).where(AuditEvent.route.contains("files")))
        ).all()
    assert {str(r.patient_id) for r in rows} == patients


async def test_the_api_process_runs_the_export_in_the_background(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_case(client)
    monkeypatch.setattr(get_settings(), "bulk_export_poll_s", 0.05)
    status = await _kick_off(client)
    background = background_jobs(get_sessionmaker(), get_settings())
    background.start()
    try:
        for _ in range(200):
            if (await client.get(status)).status_code == 200:
                break
            await asyncio.sleep(0.05)
    finally:
        await background.close()
    assert (await _manifest(client, status))["output"]
    assert uuid.UUID(status.rsplit("/", 1)[1])
