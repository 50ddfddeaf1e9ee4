"""GET /metrics: the Prometheus exposition, scope `metrics:read` (a scraper's own key).

The gauges that need the database are read here, at scrape time, with one cheap query each.
"""

from datetime import datetime

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clinical.enums import TriggerRule, TriggerStatus
from app.db import get_engine, get_sessionmaker
from app.http.guards import MetricsRead
from app.models import ImagingTrigger, OutboxMessage
from app.models.base import utcnow
from app.observability import metrics

router = APIRouter()


async def _read_database_gauges(session: AsyncSession) -> None:
    pending = OutboxMessage.status == "pending"
    backlog, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(pending)
        )
    ).one()
    metrics.OUTBOX_BACKLOG.set(backlog)
    metrics.OUTBOX_LAG.set(_age_seconds(oldest))
    open_by_rule = dict(
        (
            await session.execute(
                select(ImagingTrigger.rule, func.count())
                .where(ImagingTrigger.status == TriggerStatus.open.value)
                .group_by(ImagingTrigger.rule)
            )
        ).all()
    )
    for rule in TriggerRule:
        metrics.TRIGGERS_OPEN.labels(rule.value).set(open_by_rule.get(rule.value, 0))


def _age_seconds(oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands back naive UTC
        return max(0.0, (utcnow().replace(tzinfo=None) - oldest).total_seconds())
    return max(0.0, (utcnow() - oldest).total_seconds())


def _read_pool() -> None:
    checkedout = getattr(get_engine().pool, "checkedout", None)
    if callable(checkedout):
        metrics.DB_POOL_IN_USE.set(checkedout())


@router.get("/metrics", include_in_schema=False)
async def scrape(_principal: MetricsRead) -> Response:
    _read_pool()  # before our own session takes a connection
    async with get_sessionmaker()() as session:
        await _read_database_gauges(session)
    return Response(generate_latest(metrics.scrape_registry()), media_type=CONTENT_TYPE_LATEST)
