"""What a webhook message says about its trigger: the trigger as its API shows it to a
credential with `cases:read` (app.notifications.worker renders the body with this, at the
message's first attempt)."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ImagingTrigger
from app.triggers.reads import details
from app.triggers.schemas import to_read


async def payload(session: AsyncSession, trigger_id: uuid.UUID) -> dict[str, Any] | None:
    trigger = await session.get(ImagingTrigger, trigger_id)
    if trigger is None:
        return None
    return to_read((await details(session, [trigger]))[0]).model_dump(mode="json")
