"""FHIR Bulk Data export (the HL7 Bulk Data Access IG's $export, asynchronous pattern).

Kick-off records a job and answers its status URL; a background job in any API process claims
it (a lease renewed at every page, taken again by another process when it lapses), writes one
NDJSON file per resource type under BULK_EXPORT_DIR page by page of patients (so memory does
not grow with the registry), and marks it done with the manifest's outputs. Only the
credential that asked may poll, download or cancel; to anyone else the job does not exist.
Files and jobs are deleted once expired (BULK_EXPORT_RETENTION_HOURS).
"""

import json
import logging
import shutil
import uuid
from collections.abc import Sequence
from contextvars import Token
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.visibility import reset_identifiers_visible, set_identifiers_visible
from app.config import Settings, get_settings
from app.errors import NotFound, RuleViolation
from app.ingestion.fhir import outbound
from app.ingestion.fhir.links import episode_part_of
from app.models import BulkExport, Patient
from app.models.base import utcnow

log = logging.getLogger(__name__)
EXPORT_TYPES = outbound.CASE_TYPES
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
PAGE = 200
LEASE = timedelta(seconds=60)


def parse_types(value: str | None) -> list[str]:
    if not value:
        return list(EXPORT_TYPES)
    asked = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in asked if t not in EXPORT_TYPES]
    if unknown:
        raise RuleViolation(
            "_type",
            f"{', '.join(unknown)}: not exported; this server exports {', '.join(EXPORT_TYPES)}.",
            "unsupported-type",
        )
    return [t for t in EXPORT_TYPES if t in asked]


def check_output_format(value: str | None) -> None:
    if value is not None and value not in OUTPUT_FORMATS:
        raise RuleViolation(
            "_outputFormat", f"{value!r}: only {NDJSON} is written.", "unsupported-format"
        )


async def kick_off(
    session: AsyncSession,
    credential_id: uuid.UUID,
    sees_identifiers: bool,
    level: str,
    request: str,
    types: list[str],
    since: datetime | None,
) -> BulkExport:
    job = BulkExport(
        credential_id=credential_id,
        sees_identifiers=sees_identifiers,
        level=level,
        request=request[:2000],
        types=types,
        since=since,
        status="queued",
        transaction_time=utcnow(),
    )
    session.add(job)
    await session.flush()
    return job


async def job_of(session: AsyncSession, credential_id: uuid.UUID, job_id: uuid.UUID) -> BulkExport:
    """The job, for the credential that asked it; not found for anyone else, or once expired."""
    job = await session.get(BulkExport, job_id, populate_existing=True)
    expired = job is not None and job.expires_at is not None and job.expires_at <= utcnow()
    if job is None or job.credential_id != credential_id or expired:
        raise NotFound("Bulk export", job_id)
    return job


def job_dir(settings: Settings, job_id: uuid.UUID) -> Path:
    return settings.bulk_export_dir / str(job_id)


async def cancel(session: AsyncSession, credential_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """DELETE of the status URL: the job and its files go (a running export stops at its next
    page)."""
    job = await job_of(session, credential_id, job_id)
    await session.delete(job)
    await session.flush()
    shutil.rmtree(job_dir(get_settings(), job_id), ignore_errors=True)


def file_path(job: BulkExport, name: str) -> Path:
    """The file `name` of a done job (only a name its manifest lists)."""
    listed = {o["file"] for o in job.output or []}
    if job.status != "done" or name not in listed:
        raise NotFound("Bulk export file", name)
    return job_dir(get_settings(), job.id) / name


def manifest(job: BulkExport, base: str) -> dict[str, Any]:
    return {
        "transactionTime": job.transaction_time.isoformat(),
        "request": job.request,
        "requiresAccessToken": True,
        "output": [
            {
                "type": o["type"],
                "url": f"{base}/$export-files/{job.id}/{o['file']}",
                "count": o["count"],
            }
            for o in job.output or []
        ],
        "error": [],
    }


# --- the background job ------------------------------------------------------------------------
async def claim(session: AsyncSession) -> uuid.UUID | None:
    """Take one queued job, or one whose runner's lease lapsed; None when there is none. Two
    processes racing for a job: the UPDATE's condition lets one through."""
    now = utcnow()
    waiting = or_(
        BulkExport.status == "queued",
        (BulkExport.status == "running") & (BulkExport.lease_until < now),
    )
    candidate = await session.scalar(
        select(BulkExport.id).where(waiting).order_by(BulkExport.created_at).limit(1)
    )
    if candidate is None:
        return None
    taken = await session.execute(
        update(BulkExport)
        .where(BulkExport.id == candidate, waiting)
        .values(status="running", lease_until=now + LEASE, progress="starting")
    )
    await session.commit()
    return candidate if getattr(taken, "rowcount", 0) == 1 else None


async def _renew(session: AsyncSession, job_id: uuid.UUID, progress: str) -> bool:
    """Renew the lease; False when the job was cancelled meanwhile."""
    renewed = await session.execute(
        update(BulkExport)
        .where(BulkExport.id == job_id, BulkExport.status == "running")
        .values(lease_until=utcnow() + LEASE, progress=progress)
    )
    await session.commit()
    return getattr(renewed, "rowcount", 0) == 1


def _keep(resource: dict[str, Any], job: BulkExport, patient: Patient) -> bool:
    if resource["resourceType"] not in job.types:
        return False
    if job.since is None or resource["resourceType"] not in outbound.FROM_PATIENT_ROW:
        return True  # the others were filtered by load_cases
    return patient.updated_at >= job.since


async def run(sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> None:
    """Write the job's files, page by page of patients, then mark it done (or failed)."""
    settings = get_settings()
    folder = job_dir(settings, job_id)
    shutil.rmtree(folder, ignore_errors=True)  # what a lapsed runner left half-written
    folder.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(EXPORT_TYPES, 0)
    patients: list[str] = []
    files: dict[str, TextIO] = {}
    view: Token[bool] | None = None
    try:
        async with sessionmaker() as session:
            job = await session.get(BulkExport, job_id)
            if job is None:
                return
            view = set_identifiers_visible(job.sees_identifiers)  # the asker's view
            files = {t: (folder / f"{t}.ndjson").open("w", encoding="utf-8") for t in job.types}
            after: uuid.UUID | None = None
            while True:
                query = select(Patient.id).order_by(Patient.id).limit(PAGE)
                if after is not None:
                    query = query.where(Patient.id > after)
                page: Sequence[uuid.UUID] = (await session.scalars(query)).all()
                if not page:
                    break
                cases = await outbound.load_cases(session, page, job.since)
                part_of = await episode_part_of(session, [e for c in cases for e in c.observed])
                for case in cases:
                    wrote = False
                    for resource in outbound.case_resources(case, part_of):
                        if _keep(resource, job, case.patient):
                            kind = resource["resourceType"]
                            files[kind].write(json.dumps(resource, separators=(",", ":")) + "\n")
                            counts[kind] += 1
                            wrote = True
                    if wrote:
                        patients.append(str(case.patient.id))
                session.expunge_all()  # memory stays flat: nothing kept between pages
                after = page[-1]
                if not await _renew(session, job_id, f"{len(patients)} patients written"):
                    return  # cancelled: its folder is gone with it
        for handle in files.values():
            handle.close()
        await _finish(sessionmaker, job_id, counts, patients, settings)
    except Exception as exc:
        log.exception("bulk export %s failed", job_id)
        await _fail(sessionmaker, job_id, type(exc).__name__)
    finally:
        for handle in files.values():
            handle.close()
        if view is not None:
            reset_identifiers_visible(view)


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    job_id: uuid.UUID,
    counts: dict[str, int],
    patients: list[str],
    settings: Settings,
) -> None:
    async with sessionmaker() as session:
        job = await session.get(BulkExport, job_id)
        if job is None or job.status != "running":
            return
        now = utcnow()
        job.output = [
            {"type": t, "file": f"{t}.ndjson", "count": counts[t]} for t in job.types if counts[t]
        ]
        job.patient_ids = patients
        job.status, job.progress, job.lease_until = "done", None, None
        job.completed_at = now
        job.expires_at = now + timedelta(hours=settings.bulk_export_retention_hours)
        await session.commit()


async def _fail(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID, reason: str
) -> None:
    async with sessionmaker() as session:
        job = await session.get(BulkExport, job_id)
        if job is not None:
            job.status, job.error, job.lease_until = "failed", reason, None
            job.expires_at = utcnow() + timedelta(hours=get_settings().bulk_export_retention_hours)
            await session.commit()


async def purge_expired(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Delete expired jobs and their files; how many."""
    settings = get_settings()
    async with sessionmaker() as session:
        expired = (
            await session.scalars(select(BulkExport.id).where(BulkExport.expires_at <= utcnow()))
        ).all()
        if not expired:
            return 0
        await session.execute(delete(BulkExport).where(BulkExport.id.in_(expired)))
        await session.commit()
    for job_id in expired:
        shutil.rmtree(job_dir(settings, job_id), ignore_errors=True)
    return len(expired)


async def run_pending(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Purge what expired, then run every job waiting; how many ran."""
    await purge_expired(sessionmaker)
    ran = 0
    while True:
        async with sessionmaker() as session:
            job_id = await claim(session)
        if job_id is None:
            return ran
        await run(sessionmaker, job_id)
        ran += 1
