"""Building blocks shared by every area's schemas."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict

from app.config import get_settings


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused, text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _not_future_datetime(value: datetime) -> datetime:
    limit = datetime.now(UTC) + timedelta(seconds=get_settings().future_tolerance_s)
    if value > limit:
        raise ValueError("must not be in the future")
    return value.astimezone(UTC)


def _not_future_date(value: date) -> date:
    if value > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError("must not be in the future")
    return value


PastDatetime = Annotated[AwareDatetime, AfterValidator(_not_future_datetime)]
PastDate = Annotated[date, AfterValidator(_not_future_date)]
