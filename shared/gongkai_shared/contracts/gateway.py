"""Events the gateway publishes.

| subject (type ``….v1``)      | when                                                                  |
|------------------------------|-----------------------------------------------------------------------|
| gateway.calendar.updated     | the office loaded or corrected a year's holiday arrangement           |
| gateway.webhook.paused       | a webhook subscription kept failing for the set time and was paused   |
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

__all__ = ["CALENDAR_UPDATED_V1", "WEBHOOK_PAUSED_V1", "CalendarUpdatedV1", "WebhookPausedV1"]

CALENDAR_UPDATED_V1 = "gateway.calendar.updated.v1"
WEBHOOK_PAUSED_V1 = "gateway.webhook.paused.v1"


class CalendarUpdatedV1(BaseModel):
    """The office loaded or corrected a year's holiday arrangement: every service recomputes."""

    year: int
    arrangement: dict = Field(description="YearArrangement as JSON")
    loaded_at: dt.datetime


class WebhookPausedV1(BaseModel):
    """A webhook subscription failed every delivery for the set time and was paused: the office is told."""

    subscription_id: uuid.UUID
    name: str = Field(description="订阅名称")
    target_host: str = Field(description="接收地址的主机名（不含路径和查询参数）")
    api_key_id: uuid.UUID | None = Field(default=None, description="所属 API 密钥（政务公开办创建的为空）")
    failing_since: dt.datetime = Field(description="连续失败开始时间")
    paused_at: dt.datetime
    last_error: str | None = Field(default=None, description="最近一次失败的原因")
