"""The in-service background work: the periodic sweep (with the imaging-trigger evaluations
that a crash left behind) and the webhook delivery worker.

Started by the app's lifespan when the settings say so; each loop stops on an event and never
dies on an error (it logs and tries again at the next tick). Running it in several processes
at once is safe: the sweep is idempotent and workers claim disjoint messages.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.notifications.worker import Worker
from app.triggers.marks import recover
from app.triggers.service import trigger_rules
from app.triggers.sweep import run_sweep

log = logging.getLogger(__name__)


@dataclass
class Background:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    sweeps: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _sweep_loop(self) -> None:
        while not self.stop.is_set():
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
                await asyncio.wait_for(self.stop.wait(), self.settings.triggers_sweep_interval_s)

    def start(self) -> None:
        if self.settings.triggers_scheduler_enabled:
            self.tasks.append(asyncio.create_task(self._sweep_loop(), name="trigger-sweep"))
        if self.settings.notifications_worker_enabled:
            worker = Worker(self.sessionmaker, self.settings)
            self.tasks.append(asyncio.create_task(worker.run(self.stop), name="webhook-worker"))

    async def close(self) -> None:
        self.stop.set()
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self.tasks.clear()
