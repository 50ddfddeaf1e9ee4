"""The SQL that differs between PostgreSQL and SQLite, the clinical day's included.

One `Dialect` per database and registry time zone: Core expressions for the statistics and
the shared predicates, text fragments for the sweep's raw statements (`render` turns a Core
expression into such a fragment, so a definition is written once for both).

Time arithmetic is done on integer microseconds since the epoch: exact, and the same on both
databases. SQLite stores timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) text and UUIDs as
32 lowercase hex digits; date arithmetic on that text keeps its exact format so that text
comparisons stay correct.

The clinical day (app.clinical.days) on PostgreSQL is `AT TIME ZONE` (its own tz database).
SQLite has none: a fixed offset would be wrong across a clock change, so three deterministic
Python functions, registered on every SQLite connection (`register_sqlite_functions`, called by
app.db's connect hook), convert with zoneinfo, as the pure rules do. With the UTC default
neither is called: the SQL is what it was before the setting existed.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Double,
    Integer,
    Interval,
    Numeric,
    String,
    cast,
    extract,
    func,
    literal,
    literal_column,
)
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.engine.interfaces import Dialect as SADialect
from sqlalchemy.sql.elements import ColumnElement

from app.clinical.days import UTC_NAME, clinical_date, day_start, zone

DAY_US = 86_400_000_000
FAR_FUTURE_US = 2**62
_EPOCH = datetime(1970, 1, 1)
_POSTGRES: SADialect = PGDialect()  # type: ignore[no-untyped-call]
_SQLITE: SADialect = SQLiteDialect()


@dataclass(frozen=True)
class Dialect:
    name: str
    time_zone: str = UTC_NAME  # whose calendar days are the clinical days

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    @property
    def utc(self) -> bool:
        return self.time_zone == UTC_NAME

    # --- rendering Core into the raw statements --------------------------------------------
    @property
    def compiler_dialect(self) -> SADialect:
        return _POSTGRES if self.postgres else _SQLITE

    def render(self, expr: ColumnElement[Any]) -> str:
        """A Core expression as SQL text, its values inlined (settings, never user input)."""
        compiled = expr.compile(
            dialect=self.compiler_dialect, compile_kwargs={"literal_binds": True}
        )
        return f"({compiled})"

    def render_order(self, *clauses: Any) -> str:
        """ORDER BY terms (Core, as `predicates.baseline_order` gives them) as SQL text."""
        return ", ".join(
            str(c.compile(dialect=self.compiler_dialect, compile_kwargs={"literal_binds": True}))
            for c in clauses
        )

    # --- numbers -----------------------------------------------------------------------------
    def round6(self, value: ColumnElement[Any]) -> ColumnElement[float]:
        """round(x, 6) as Python does it for the rules (PostgreSQL rounds numerics only)."""
        if self.postgres:
            return cast(func.round(cast(value, Numeric), 6), Double)
        return func.round(value, 6)

    def real(self, value: Any) -> ColumnElement[float]:
        """A numeric column as a double, so arithmetic matches Python floats."""
        return cast(value, Double) if self.postgres else value

    # --- instants and days -------------------------------------------------------------------
    def plus_days(self, ts: Any, days: int) -> ColumnElement[Any]:
        """A timestamp column plus whole days (elapsed time), as a timestamp of the same form
        (SQLite: its exact stored text, so that text comparisons stay correct)."""
        days = int(days)
        if self.postgres:
            return ts + func.make_interval(0, 0, 0, days, type_=Interval)  # type: ignore[no-any-return]
        shifted = func.strftime("%Y-%m-%d %H:%M:%S", ts, f"{days:+d} days", type_=String)
        return shifted.concat(func.substr(ts, 20))

    @staticmethod
    def us_plus_days(us: Any, days: Any) -> ColumnElement[int]:
        """Epoch microseconds plus days (a number, or an integer column), in microseconds."""
        if isinstance(days, int):
            return us + literal(days * DAY_US, BigInteger)  # type: ignore[no-any-return]
        return us + days * literal(DAY_US, BigInteger)  # type: ignore[no-any-return]

    def epoch_us(self, ts: Any) -> ColumnElement[int]:
        """A timestamp as integer microseconds since 1970-01-01 UTC."""
        if self.postgres:
            return cast(extract("epoch", ts) * 1_000_000, BigInteger)
        seconds = cast(func.strftime("%s", ts), Integer)
        micros = cast(func.substr(ts, 21, 6), Integer)
        return seconds * 1_000_000 + func.coalesce(micros, 0)

    def local_us(self, ts: Any, us: Any = None) -> ColumnElement[int]:
        """The registry's local clock at a timestamp, as microseconds since a local 1970-01-01
        (`us`: the timestamp's epoch_us when the caller has it, used as is under UTC)."""
        if self.utc:
            return self.epoch_us(ts) if us is None else us
        if self.postgres:
            return cast(extract("epoch", func.timezone(self.time_zone, ts)) * 1_000_000, BigInteger)
        return func.clinical_local_us(ts, self.time_zone, type_=BigInteger)

    def day(self, us: Any) -> ColumnElement[int]:
        """The day number (days since 1970-01-01) of a microsecond count."""
        return us // literal(DAY_US, BigInteger)  # type: ignore[no-any-return]

    def local_day(self, ts: Any, us: Any = None) -> ColumnElement[int]:
        """The clinical day of a timestamp, as a day number."""
        return self.day(self.local_us(ts, us))

    def date_day(self, day: Any) -> ColumnElement[int]:
        """A date column's day number (days since 1970-01-01)."""
        if self.postgres:
            return cast(extract("epoch", day), BigInteger) // literal(86_400, BigInteger)
        return cast(func.strftime("%s", day), Integer) // literal(86_400, Integer)

    def day_start_us(self, day: Any) -> ColumnElement[int]:
        """The instant a date column's clinical day begins, as epoch microseconds."""
        if self.postgres:
            local_midnight = cast(day, DateTime)
            start = local_midnight if self.utc else func.timezone(self.time_zone, local_midnight)
            return cast(extract("epoch", start), BigInteger) * 1_000_000
        if self.utc:
            return cast(func.strftime("%s", day), Integer) * 1_000_000
        return func.clinical_day_start_us(day, self.time_zone, type_=BigInteger)

    def local_date(self, ts: Any) -> ColumnElement[date]:
        """The clinical date of a timestamp (compared with dates such as a date of death)."""
        if self.postgres:
            return cast(func.timezone(self.time_zone, ts), Date)
        if self.utc:
            return func.date(ts, type_=Date)
        return func.clinical_local_date(ts, self.time_zone, type_=Date)

    def ymd(self, value: Any, *, is_date: bool = False) -> ColumnElement[int]:
        """YYYYMMDD as an integer (a clinical date): (a - b) / 10000 is an age in years."""
        day = value if is_date else self.local_date(value)
        if self.postgres:
            return cast(func.to_char(day, "YYYYMMDD"), Integer)
        return cast(func.strftime("%Y%m%d", day), Integer)

    # --- text fragments of the raw statements --------------------------------------------------
    def add_days(self, expr: str, days: int) -> str:
        """`plus_days` on a column of a raw statement."""
        return self.render(self.plus_days(literal_column(expr, DateTime), days))

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


def _micros(delta: Any) -> int:
    return int((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def _stored(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _local_us(stored: str | None, zone_name: str) -> int | None:
    """SQLite's clinical_local_us: a stored UTC timestamp on the registry's local clock."""
    if stored is None:
        return None
    return _micros(_stored(stored).astimezone(zone(zone_name)).replace(tzinfo=None) - _EPOCH)


def _local_date(stored: str | None, zone_name: str) -> str | None:
    """SQLite's clinical_local_date: a stored UTC timestamp's clinical date, 'YYYY-MM-DD'."""
    if stored is None:
        return None
    return clinical_date(_stored(stored), zone_name).isoformat()


def _day_start_us(day: str | None, zone_name: str) -> int | None:
    """SQLite's clinical_day_start_us: when a stored date begins, in epoch microseconds."""
    if day is None:
        return None
    start = day_start(date.fromisoformat(day[:10]), zone_name)
    return _micros(start.replace(tzinfo=None) - _EPOCH)


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Give a SQLite connection (sqlite3, or SQLAlchemy's aiosqlite adapter) the clinical-day
    functions."""
    for name, function in (
        ("clinical_local_us", _local_us),
        ("clinical_local_date", _local_date),
        ("clinical_day_start_us", _day_start_us),
    ):
        dbapi_connection.create_function(name, 2, function, deterministic=True)
