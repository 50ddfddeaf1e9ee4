"""The few SQL fragments that differ between PostgreSQL and SQLite, for the set-based writes.

SQLite stores timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text (UTC) and UUIDs as 32 lowercase
hex digits; date arithmetic keeps that exact format so text comparisons stay correct.
"""

from dataclasses import dataclass

from sqlalchemy import TextClause, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.base import UTCDateTime


@dataclass(frozen=True)
class Dialect:
    name: str

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def add_days(self, expr: str, days: int) -> str:
        days = int(days)
        if self.postgres:
            return f"({expr} + make_interval(days => {days}))"
        return f"(strftime('%Y-%m-%d %H:%M:%S', {expr}, '{days:+d} days') || substr({expr}, 20))"

    def to_date(self, expr: str) -> str:
        if self.postgres:
            return f"CAST(({expr}) AT TIME ZONE 'UTC' AS date)"
        return f"date({expr})"

    def uuid7(self) -> str:
        """A new time-ordered UUIDv7 per row (millisecond timestamp, random rest)."""
        if self.postgres:
            return (
                "CAST(lpad(to_hex(CAST(floor(extract(epoch FROM clock_timestamp()) * 1000)"
                " AS bigint)), 12, '0') || '7' || substr(md5(CAST(random() AS text)), 1, 3)"
                " || substr('89ab', CAST(floor(random() * 4) AS integer) + 1, 1)"
                " || substr(md5(CAST(random() AS text)), 1, 15) AS uuid)"
            )
        return (
            "lower(printf('%012x', CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))"
            " || '7' || substr(hex(randomblob(2)), 1, 3)"
            " || substr('89ab', (abs(random()) % 4) + 1, 1) || substr(hex(randomblob(8)), 1, 15))"
        )

    def json_list_has(self, column: str, param: str) -> str:
        """`column` (a JSON array of strings) contains the bound parameter `param`."""
        if self.postgres:
            return f"{column} @> jsonb_build_array(CAST(:{param} AS text))"
        return f"EXISTS (SELECT 1 FROM json_each({column}) AS j WHERE j.value = :{param})"

    def skip_locked(self) -> str:
        return "FOR UPDATE SKIP LOCKED" if self.postgres else ""


def dialect_of(session: AsyncSession) -> Dialect:
    return Dialect(session.get_bind().dialect.name)


def typed(sql: str, *, uuids: tuple[str, ...] = (), times: tuple[str, ...] = ()) -> TextClause:
    """A text statement whose UUID and timestamp parameters bind as the ORM's types do."""
    return text(sql).bindparams(
        *(bindparam(name, type_=Uuid()) for name in uuids),
        *(bindparam(name, type_=UTCDateTime()) for name in times),
    )
