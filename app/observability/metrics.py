"""Every Prometheus series, declared once, and the one-line helpers the areas call.

No label holds an identifier: routes are templates, event types and trigger rules come from
closed lists (anything else is "other"), failures are the closed `Failure` values.
With several worker processes, set PROMETHEUS_MULTIPROC_DIR (docs/operations.md).
"""

import os
import uuid
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.dml import Insert

from app.clinical.enums import TriggerRule
from app.models import ImagingTrigger

REGISTRY = CollectorRegistry(auto_describe=True)
_R: dict[str, Any] = {"registry": REGISTRY}

HTTP_REQUESTS = Counter(
    "vertebro_http_requests_total", "HTTP requests by route template and status.",
    ["method", "route", "status"], **_R,
)  # fmt: skip
HTTP_DURATION = Histogram(
    "vertebro_http_request_duration_seconds", "HTTP request latency by route template.",
    ["method", "route", "status"], **_R,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
EVENTS_INGESTED = Counter(
    "vertebro_events_ingested_total",
    "EHR events answered, by type and outcome (created, replayed, rejected).",
    ["type", "outcome"], **_R,
)  # fmt: skip
TRIGGERS_OPENED = Counter(
    "vertebro_triggers_opened_total", "Imaging triggers opened, by rule.", ["rule"], **_R
)
TRIGGERS_OPEN = Gauge(
    "vertebro_triggers_open", "Imaging triggers open now, by rule (read at scrape).", ["rule"],
    multiprocess_mode="livemostrecent", **_R,
)  # fmt: skip
WEBHOOK_FAILURES = Counter(
    "vertebro_webhook_delivery_failures_total",
    "Failed webhook delivery attempts, by failure and what follows (retry, dead).",
    ["failure", "outcome"], **_R,
)  # fmt: skip
OUTBOX_BACKLOG = Gauge(
    "vertebro_outbox_backlog", "Webhook messages not yet delivered (read at scrape).",
    multiprocess_mode="livemostrecent", **_R,
)  # fmt: skip
OUTBOX_LAG = Gauge(
    "vertebro_outbox_oldest_pending_age_seconds",
    "Age of the oldest undelivered webhook message: the delivery lag (0: none pending).",
    multiprocess_mode="livemostrecent", **_R,
)  # fmt: skip
SWEEP_DURATION = Histogram(
    "vertebro_trigger_sweep_duration_seconds", "Duration of the day-14 imaging-trigger sweep.",
    **_R, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)  # fmt: skip
DB_POOL_IN_USE = Gauge(
    "vertebro_db_pool_connections_in_use",
    "Database connections checked out of this process's pool (absent where the pool "
    "does not count them).", multiprocess_mode="liveall", **_R,
)  # fmt: skip
AUDIT_ROWS = Counter("vertebro_audit_rows_written_total", "Audit-trail rows inserted.", **_R)

_RULES = frozenset(r.value for r in TriggerRule)


def events_ingested(results: Iterable[Any], known_types: Iterable[str]) -> None:
    """Count ingestion results (objects with `.type` and `.status`); a type outside
    `known_types` (the closed list) is counted as "other"."""
    known = frozenset(known_types)
    for r in results:
        kind = r.type if r.type in known else "other"
        EVENTS_INGESTED.labels(kind, str(r.status)).inc()


def triggers_opened(rules: Iterable[str]) -> None:
    for rule in rules:
        TRIGGERS_OPENED.labels(rule if rule in _RULES else "other").inc()


def webhook_attempt(outcome: str, failure: object | None) -> None:
    """One delivery attempt's outcome; failures only are counted."""
    if failure is not None:
        WEBHOOK_FAILURES.labels(str(getattr(failure, "value", "other")), outcome).inc()


async def sweep_finished(session: AsyncSession, batch: uuid.UUID, seconds: float) -> None:
    """The sweep's duration, and the triggers it opened (its batch) by rule: one query."""
    SWEEP_DURATION.observe(seconds)
    opened = await session.execute(
        select(ImagingTrigger.rule, func.count())
        .where(ImagingTrigger.batch_id == batch)
        .group_by(ImagingTrigger.rule)
    )
    for rule, count in opened.all():
        TRIGGERS_OPENED.labels(rule if rule in _RULES else "other").inc(count)


@event.listens_for(Session, "do_orm_execute")
def _audit_rows(state: ORMExecuteState) -> None:
    """Audit rows are inserted by one Core INSERT (app.audit.recorder.add_rows): count them
    here, so the audit area needs no import of this package."""
    stmt = state.statement
    if isinstance(stmt, Insert) and getattr(stmt.table, "name", None) == "audit_events":
        params = state.parameters
        AUDIT_ROWS.inc(len(params) if isinstance(params, list) else 1)


def scrape_registry() -> CollectorRegistry:
    """What /metrics exposes: this process's registry, or every worker's in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
