"""The event door's background jobs. The purge: refused events are deleted once older than
EVENT_REJECTIONS_RETENTION_DAYS, hourly, in every API process (a DELETE of what is past the
cutoff is safe to run in several at once). `vertebro events purge-rejections` does the same
once, for cron. The FHIR Bulk Data exports (BulkExporter)."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.common.jobs import Job
from app.config import Settings
from app.ingestion.fhir import bulk
from app.ingestion.rejections import purge_rejections

log = logging.getLogger(__name__)
PURGE_INTERVAL_S = 3600.0


@dataclass
class RejectionsPurger:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self.sessionmaker() as session:
                    days = self.settings.event_rejections_retention_days
                    if deleted := await purge_rejections(session, days):
                        log.info("deleted %d refused events older than %d days", deleted, days)
                    await session.commit()
            except Exception:
                log.exception("purging refused events failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PURGE_INTERVAL_S)


REJECTIONS_PURGE = Job("rejections-purge", lambda s: True, RejectionsPurger)


@dataclass
class BulkExporter:
    """Runs FHIR Bulk Data exports (app.ingestion.fhir.bulk) as they are asked for, and deletes
    expired ones. Safe in every API process: a job is claimed under a lease."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await bulk.run_pending(self.sessionmaker)
            except Exception:
                log.exception("bulk export job failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.bulk_export_poll_s)


BULK_EXPORT = Job("bulk-export", lambda s: True, BulkExporter)
