"""Dates as the law counts them: in China Standard Time (Asia/Shanghai), whatever the server's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["CHINA", "china_date_of", "china_today"]

CHINA = ZoneInfo("Asia/Shanghai")


def china_today() -> dt.date:
    return dt.datetime.now(CHINA).date()


def china_date_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CHINA).date()
