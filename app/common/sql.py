"""Raw statements on a session: its dialect, and text whose parameters bind as the ORM's do.

The one `Dialect` is app.clinical.dialect's (the SQL that differs between PostgreSQL and
SQLite, the clinical day's included).
"""

from sqlalchemy import TextClause, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.clinical.days import UTC_NAME
from app.clinical.dialect import Dialect
from app.models.base import UTCDateTime


def dialect_of(session: AsyncSession, time_zone: str = UTC_NAME) -> Dialect:
    return Dialect(session.get_bind().dialect.name, time_zone)


def typed(sql: str, *, uuids: tuple[str, ...] = (), times: tuple[str, ...] = ()) -> TextClause:
    """A text statement whose UUID and timestamp parameters bind as the ORM's types do."""
    return text(sql).bindparams(
        *(bindparam(name, type_=Uuid()) for name in uuids),
        *(bindparam(name, type_=UTCDateTime()) for name in times),
    )
