"""Background jobs: each area declares its own (`<area>/jobs.py`: what it runs, and which
setting turns it on), and the app's lifespan runs the ones the settings enable.

Each job loops until told to stop and never dies on an error (it logs and tries again at the
next tick). Running a job in several processes at once must be safe: the sweep is idempotent,
webhook workers claim disjoint messages.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings


class Runner(Protocol):
    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set."""


@dataclass(frozen=True)
class Job:
    name: str
    enabled: Callable[[Settings], bool]
    start: Callable[[async_sessionmaker[AsyncSession], Settings], Runner]


@dataclass
class Background:
    """The jobs of one process: `start` those the settings enable, `close` them all."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    jobs: Sequence[Job]
    runners: dict[str, Runner] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        for job in self.jobs:
            if job.enabled(self.settings):
                runner = self.runners[job.name] = job.start(self.sessionmaker, self.settings)
                self.tasks.append(asyncio.create_task(runner.run(self.stop), name=job.name))

    async def close(self) -> None:
        self.stop.set()
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self.tasks.clear()
