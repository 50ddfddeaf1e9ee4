"""Building blocks shared by every area's schemas."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, field_validator

from app.common.nul import MESSAGE as NUL_MESSAGE
from app.common.nul import nul_path
from app.config import get_settings


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused, text is trimmed, U+0000 is refused (the
    database cannot store it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if nul_path(value) is not None:
            raise ValueError(NUL_MESSAGE)
        return value


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# A plausibility bound for every clinical date, not a clinical rule: earlier dates are typing
# errors (and year-1 arithmetic, e.g. a baseline window before the first session, overflows)
EARLIEST = date(1900, 1, 1)


def in_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; one that UTC cannot represent (year 1 at +14:00, year 9999
    at -12:00) is a validation error, not an OverflowError."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of the representable range") from None


# any aware moment, held in UTC (an API key's expiry, a time filter in a query)
UtcDatetime = Annotated[AwareDatetime, AfterValidator(in_utc)]


def _not_future_datetime(value: datetime) -> datetime:
    value = in_utc(value)
    if value.date() < EARLIEST:
        raise ValueError(f"must not be before {EARLIEST.isoformat()} (UTC)")
    if value > datetime.now(UTC) + timedelta(seconds=get_settings().future_tolerance_s):
        raise ValueError("must not be in the future")
    return value


def _not_future_date(value: date) -> date:
    if value < EARLIEST:
        raise ValueError(f"must not be before {EARLIEST.isoformat()}")
    if value > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError("must not be in the future")
    return value


PastDatetime = Annotated[AwareDatetime, AfterValidator(_not_future_datetime)]
PastDate = Annotated[date, AfterValidator(_not_future_date)]
