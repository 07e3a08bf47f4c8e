"""Events the gateway publishes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

__all__ = ["CALENDAR_UPDATED_V1", "CalendarUpdatedV1"]

CALENDAR_UPDATED_V1 = "gateway.calendar.updated.v1"


class CalendarUpdatedV1(BaseModel):
    """The office loaded or corrected a year's holiday arrangement: every service recomputes."""

    year: int
    arrangement: dict = Field(description="YearArrangement as JSON")
    loaded_at: dt.datetime
