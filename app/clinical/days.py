"""The clinical day: the registry's local calendar date (REGISTRY_TIME_ZONE), never UTC's.

Timestamps are stored in UTC; a day is a calendar date in the registry's time zone, so a score
taken at 21:00 in Toronto (02:00 UTC the next morning) falls on the day it was taken.

Two kinds of "day" appear in the definitions, and only one of them is a calendar day:
- calendar dates: a date of death compared with an instant, the statistics' date filters,
  age at the first session, and Kaplan-Meier times in whole calendar days since t0;
- durations after an instant: the time-point and trigger windows (t0 + d days), "the end of
  day d after t0" for analgesia (t0 + d + 1 days), and the trajectory's days since t0 are
  elapsed time, whole multiples of 24 hours, whatever the time zone.

The SQL of these (app.clinical.dialect) is held to these functions by the tests.
"""

from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC_NAME = "UTC"
EPOCH_DATE = date(1970, 1, 1)


@lru_cache(maxsize=16)
def zone(name: str) -> tzinfo:
    """The time zone of an IANA name (the settings checked it); UTC needs no time zone
    database."""
    return UTC if name == UTC_NAME else ZoneInfo(name)


def clinical_date(at: datetime, zone_name: str) -> date:
    """The calendar date an instant falls on in the registry's time zone."""
    return at.astimezone(zone(zone_name)).date()


def day_number(at: datetime | date, zone_name: str) -> int:
    """Days from 1970-01-01 to the instant's clinical date (or to the date itself)."""
    day = at if not isinstance(at, datetime) else clinical_date(at, zone_name)
    return (day - EPOCH_DATE).days


def days_since(at: datetime | date, t0: datetime, zone_name: str) -> int:
    """Whole calendar days from t0's clinical date to `at`'s (or to the date `at`)."""
    return day_number(at, zone_name) - day_number(t0, zone_name)


def day_start(day: date, zone_name: str) -> datetime:
    """The instant (UTC) a calendar date begins in the registry's time zone (a local midnight
    that a clock change skips is read with the offset before the change, as zoneinfo does)."""
    return datetime.combine(day, time(), zone(zone_name)).astimezone(UTC)
