"""The clinical day (app.clinical.days): the registry's calendar, across clock changes."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.clinical.days import clinical_date, day_number, day_start, days_since
from app.clinical.definitions import Definitions
from app.config import Settings

TORONTO = "America/Toronto"


def test_a_score_at_21h_in_toronto_falls_on_its_own_day() -> None:
    # 21:00 EST is 02:00 UTC the next morning; after the spring change (EDT) it is 01:00 UTC
    for local_day, utc in (
        (date(2024, 3, 9), datetime(2024, 3, 10, 2, 0, tzinfo=UTC)),  # EST, before the change
        (date(2024, 3, 10), datetime(2024, 3, 11, 1, 0, tzinfo=UTC)),  # EDT, the change's day
        (date(2024, 11, 3), datetime(2024, 11, 4, 2, 0, tzinfo=UTC)),  # EST again
    ):
        assert clinical_date(utc, TORONTO) == local_day
        assert clinical_date(utc, "UTC") == local_day + timedelta(days=1)


def test_days_begin_at_local_midnight_whatever_the_offset() -> None:
    assert day_start(date(2024, 3, 10), TORONTO) == datetime(2024, 3, 10, 5, tzinfo=UTC)
    assert day_start(date(2024, 3, 11), TORONTO) == datetime(2024, 3, 11, 4, tzinfo=UTC)
    assert day_start(date(2024, 11, 3), TORONTO) == datetime(2024, 11, 3, 4, tzinfo=UTC)
    assert day_start(date(2024, 11, 4), TORONTO) == datetime(2024, 11, 4, 5, tzinfo=UTC)
    # the two clock-change days last 23 and 25 hours
    spring = day_start(date(2024, 3, 11), TORONTO) - day_start(date(2024, 3, 10), TORONTO)
    autumn = day_start(date(2024, 11, 4), TORONTO) - day_start(date(2024, 11, 3), TORONTO)
    assert (spring, autumn) == (timedelta(hours=23), timedelta(hours=25))
    assert day_start(date(2024, 3, 10), "UTC") == datetime(2024, 3, 10, tzinfo=UTC)


def test_whole_days_since_t0_count_calendar_days() -> None:
    t0 = datetime(2024, 3, 8, 20, 0, tzinfo=UTC)  # 15:00 EST on the 8th
    late = datetime(2024, 3, 11, 1, 0, tzinfo=UTC)  # 21:00 EDT on the 10th
    assert days_since(late, t0, TORONTO) == 2
    assert days_since(late, t0, "UTC") == 3
    assert days_since(date(2024, 3, 10), t0, TORONTO) == 2
    assert day_number(date(1970, 1, 2), TORONTO) == 1


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(["UTC", TORONTO, "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia"]),
)
def test_an_instant_lies_in_the_day_it_falls_on(at: datetime, zone: str) -> None:
    day = clinical_date(at, zone)
    assert day_start(day, zone) <= at < day_start(day + timedelta(days=1), zone)


def test_the_registry_time_zone_is_checked_when_the_settings_load() -> None:
    assert Settings().registry_time_zone == "UTC"
    assert Definitions.from_settings(Settings(registry_time_zone=TORONTO)).time_zone == TORONTO
    with pytest.raises(ValidationError, match="'Mars/Olympus' is not an IANA time zone name"):
        Settings(registry_time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="registry_time_zone"):
        Settings(registry_time_zone="EST+5")
