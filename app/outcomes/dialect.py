"""The SQL expressions that differ between PostgreSQL and SQLite, as SQLAlchemy Core.

Time arithmetic is done on integer microseconds since the epoch (UTC): exact, and the same on
both databases. SQLite stores timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) text.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Double, Integer, Numeric, cast, extract, func, literal
from sqlalchemy.sql.elements import ColumnElement

DAY_US = 86_400_000_000
FAR_FUTURE_US = 2**62


@dataclass(frozen=True)
class Dialect:
    name: str

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def epoch_us(self, ts: Any) -> ColumnElement[int]:
        """A timestamp as integer microseconds since 1970-01-01 UTC."""
        if self.postgres:
            return cast(extract("epoch", ts) * 1_000_000, BigInteger)
        seconds = cast(func.strftime("%s", ts), Integer)
        micros = cast(func.substr(ts, 21, 6), Integer)
        return seconds * 1_000_000 + func.coalesce(micros, 0)

    def date_us(self, day: Any) -> ColumnElement[int]:
        """A date as the microseconds of its midnight UTC."""
        if self.postgres:
            return cast(extract("epoch", day), BigInteger) * 1_000_000
        return cast(func.strftime("%s", day), Integer) * 1_000_000

    def ymd(self, value: Any, *, is_date: bool = False) -> ColumnElement[int]:
        """YYYYMMDD as an integer (UTC calendar date): (a - b) / 10000 is an age in years."""
        if self.postgres:
            source = value if is_date else func.timezone("UTC", value)
            return cast(func.to_char(source, "YYYYMMDD"), Integer)
        return cast(func.strftime("%Y%m%d", value), Integer)

    def round6(self, value: ColumnElement[Any]) -> ColumnElement[float]:
        """round(x, 6) as Python does it for the rules (PostgreSQL rounds numerics only)."""
        if self.postgres:
            return cast(func.round(cast(value, Numeric), 6), Double)
        return func.round(value, 6)

    def real(self, value: Any) -> ColumnElement[float]:
        """A numeric column as a double, so arithmetic matches Python floats."""
        return cast(value, Double) if self.postgres else value

    def day(self, us: ColumnElement[int]) -> ColumnElement[int]:
        """The UTC calendar day number of a microsecond timestamp (days since 1970-01-01)."""
        return us // literal(DAY_US, BigInteger)
