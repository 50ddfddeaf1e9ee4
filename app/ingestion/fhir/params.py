"""FHIR R4 search parameter values: date (with prefixes), token, reference.

A date without a time zone (`2019-02`, `2019-02-12`) is a UTC day, month or year; a dateTime
must carry its zone. Prefixes: eq (the default), ne is not supported; gt, lt, ge, le compare
with the whole period the value names (R4 3.1.1.5.6: `ge2019-02` is from 1 February 00:00).
"""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import InstrumentedAttribute

from app.ingestion.fhir.reading import FhirError

PREFIXES = ("eq", "gt", "lt", "ge", "le")
_DATE = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2}))?)?$")


@dataclass(frozen=True)
class Period:
    """The half-open period [start, end) a date search value names."""

    start: datetime
    end: datetime


def _month_after(year: int, month: int) -> datetime:
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def period(text: str, name: str) -> Period:
    match = _DATE.match(text)
    try:
        if match:
            year, month, day = int(match["y"]), match["m"], match["d"]
            if month is None:
                return Period(
                    datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
                )
            if day is None:
                return Period(
                    datetime(year, int(month), 1, tzinfo=UTC), _month_after(year, int(month))
                )
            start = datetime(year, int(month), int(day), tzinfo=UTC)
            return Period(start, start + timedelta(days=1))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise FhirError(
            400, "invalid", f"{name}: {text!r} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) "
            "or a dateTime with a time zone.", name,
        )  # fmt: skip
    moment = moment.astimezone(UTC)
    return Period(moment, moment + timedelta(seconds=1))


def date_clause(
    column: InstrumentedAttribute[Any], value: str, name: str, *, dates: bool = False
) -> ColumnElement[bool]:
    """`date=ge2019-02-01` as SQL on a datetime column (or, `dates`, a date column)."""
    prefix, text = (value[:2], value[2:]) if value[:2] in PREFIXES else ("eq", value)
    if value[:2].isalpha() and prefix == "eq" and value[:2] != "eq":
        raise FhirError(
            400, "not-supported", f"{name}: the prefixes are {', '.join(PREFIXES)}.", name
        )
    when = period(text, name)
    start: date | datetime = when.start
    end: date | datetime = when.end
    if dates:
        start, end = when.start.date(), when.end.date()
        if when.end.time() != datetime.min.time():  # a dateTime within a day: that day
            end = when.start.date() + timedelta(days=1)
    if prefix == "eq":
        return and_(column >= start, column < end)
    if prefix == "ge":
        return column >= start
    if prefix == "gt":
        return column >= end
    if prefix == "lt":
        return column < start
    return column < end  # le


def token(value: str) -> tuple[str | None, str | None]:
    """`system|code` -> (system, code); `code` -> (None, code); `system|` -> (system, None);
    `|code` -> ('', code) (no system)."""
    if "|" not in value:
        return None, value or None
    system, code = value.split("|", 1)
    return system, code or None


def reference_id(value: str, resource_type: str, name: str) -> uuid.UUID:
    """`patient=<id>` or `patient=Patient/<id>` (this server's ids) -> the id."""
    text = value.removeprefix(f"{resource_type}/")
    try:
        return uuid.UUID(text)
    except ValueError:
        raise FhirError(
            400, "invalid", f"{name}: a {resource_type} id, or {resource_type}/<id>.", name
        ) from None
