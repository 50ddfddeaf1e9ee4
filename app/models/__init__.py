"""ORM models, one file per aggregate; import them from here."""

from app.models.audit import AuditEvent
from app.models.auth import ApiKey
from app.models.base import Base
from app.models.bulk_export import BulkExport
from app.models.complication import Complication
from app.models.event_log import EventLog
from app.models.event_rejection import EventRejection
from app.models.follow_up import FollowUpEvent
from app.models.idempotency_key import IdempotencyKey
from app.models.notification import DeliveryAttempt, OutboxMessage, WebhookSubscription
from app.models.outcome import OutcomeDirty, OutcomeEpisode, OutcomeMeta
from app.models.patient import Patient, PatientIdentifier
from app.models.procedure import LevelTreated, Procedure, ProcedureSeries
from app.models.resource_identifier import ResourceIdentifier
from app.models.trigger import (
    Day14Check,
    ImagingTrigger,
    TriggerEvaluationMark,
    TriggerEvidence,
    TriggerTransition,
)
from app.models.web_session import WebSessionRow

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "BulkExport",
    "Complication",
    "Day14Check",
    "DeliveryAttempt",
    "EventLog",
    "EventRejection",
    "FollowUpEvent",
    "IdempotencyKey",
    "ImagingTrigger",
    "LevelTreated",
    "OutboxMessage",
    "OutcomeDirty",
    "OutcomeEpisode",
    "OutcomeMeta",
    "Patient",
    "PatientIdentifier",
    "Procedure",
    "ProcedureSeries",
    "ResourceIdentifier",
    "TriggerEvaluationMark",
    "TriggerEvidence",
    "TriggerTransition",
    "WebSessionRow",
    "WebhookSubscription",
]
