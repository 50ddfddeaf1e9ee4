"""Deprecated: until app/main.py builds `app.common.jobs.Background` with each area's jobs
(app.triggers.jobs, app.notifications.jobs) itself. Delete this module then."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.common import jobs
from app.config import Settings
from app.notifications.jobs import webhook_delivery
from app.triggers import webhooks
from app.triggers.jobs import TRIGGER_SWEEP


def Background(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> jobs.Background:
    return jobs.Background(
        sessionmaker, settings, (TRIGGER_SWEEP, webhook_delivery(webhooks.payload))
    )
