"""The imaging triggers' background job: the periodic sweep (day-14 decisions), with the
evaluations that a crash left behind (`marks.recover`). On with TRIGGERS_SCHEDULER_ENABLED,
every TRIGGERS_SWEEP_INTERVAL_S; `vertebro triggers sweep` runs it once, for cron."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.common.jobs import Job
from app.config import Settings
from app.triggers.evaluation import trigger_rules
from app.triggers.marks import recover
from app.triggers.sweep import run_sweep

log = logging.getLogger(__name__)


@dataclass
class Sweeper:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    sweeps: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if settled := await recover(self.sessionmaker):
                    log.warning("evaluated %d imaging-trigger mark(s) left by a crash", settled)
                result = await run_sweep(self.sessionmaker, trigger_rules(self.settings))
                self.sweeps += 1
                if result.fired:
                    log.info("sweep opened %d imaging trigger(s)", result.fired)
            except Exception:
                log.exception("imaging trigger sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.triggers_sweep_interval_s)


TRIGGER_SWEEP = Job("trigger-sweep", lambda s: s.triggers_scheduler_enabled, Sweeper)
