import uuid
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, BaseModel, Field, field_validator

from app.common.schemas import InputModel, ReadModel
from app.notifications import failures
from app.notifications.failures import Failure
from app.notifications.outbox import EventType

URL_RULES = (
    "http or https (https only in production), without credentials, to a host that is and "
    "resolves to public addresses only (private networks too where the registry allows them: "
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS)."
)
ERROR_DESCRIPTION = (
    "Why the attempt failed, as a class: the receiver's answer is not kept. "
    "http-3xx: redirects are not followed."
)


class SubscriptionFields(InputModel):
    url: AnyHttpUrl = Field(max_length=2000, description="Where to POST the events: " + URL_RULES)
    events: list[EventType] = Field(min_length=1, description="The events wanted.")
    description: str | None = Field(None, max_length=4000)

    @field_validator("events")
    @classmethod
    def _distinct(cls, value: list[EventType]) -> list[EventType]:
        return sorted(set(value))


class SubscriptionCreate(SubscriptionFields):
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=200,
        description="The HMAC key for signatures; generated (and returned once) when omitted.",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "url": "https://ris.example.org/hooks/vertebro",
                    "events": ["imaging_trigger.opened", "imaging_trigger.superseded"],
                    "description": "Radiology worklist",
                }
            ]
        }
    }


class SubscriptionUpdate(InputModel):
    url: AnyHttpUrl | None = Field(None, max_length=2000, description=URL_RULES)
    events: list[EventType] | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=4000)
    active: bool | None = None
    secret: str | None = Field(None, min_length=16, max_length=200)

    model_config = {"json_schema_extra": {"examples": [{"active": False}]}}


class SubscriptionRead(ReadModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    active: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @field_validator("url")
    @classmethod
    def _without_credentials(cls, value: str) -> str:
        """Registered before credentials were refused: they are not shown (nor sent)."""
        parts = urlsplit(value)
        if "@" not in parts.netloc:
            return value
        return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="Shown once: keep it to verify signatures.")


class AttemptRead(ReadModel):
    number: int
    worker: str
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: Failure | None = Field(description=ERROR_DESCRIPTION)
    outcome: str

    @field_validator("error", mode="before")
    @classmethod
    def _class_only(cls, value: str | None) -> Failure | None:
        return failures.of_stored(value)


class DeliveryRead(BaseModel):
    id: uuid.UUID = Field(description="The stable message id (X-Vertebro-Message-Id).")
    subscription_id: uuid.UUID
    event_type: str
    trigger_id: uuid.UUID
    status: str = Field(description="pending, delivered or dead.")
    attempts: int = Field(description="Attempts since it was queued (or redelivered).")
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: Failure | None = Field(description=ERROR_DESCRIPTION)
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptRead]

    @field_validator("last_error", mode="before")
    @classmethod
    def _class_only(cls, value: str | None) -> Failure | None:
        return failures.of_stored(value)
