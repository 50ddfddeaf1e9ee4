"""The notifications' background job: the webhook delivery worker (app.notifications.worker),
on with NOTIFICATIONS_WORKER_ENABLED; `vertebro worker` runs it on its own."""

from app.common.jobs import Job
from app.notifications.worker import TriggerPayload, Worker


def webhook_delivery(payload: TriggerPayload) -> Job:
    """The job, with what renders a message's trigger (the triggers area hands it over)."""
    return Job(
        "webhook-worker",
        lambda s: s.notifications_worker_enabled,
        lambda sessionmaker, settings: Worker(sessionmaker, settings, payload=payload),
    )
