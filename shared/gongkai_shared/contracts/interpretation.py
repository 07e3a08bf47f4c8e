"""Events the interpretation service publishes."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

__all__ = ["TASK_CREATED_V1", "TaskCreatedV1"]

TASK_CREATED_V1 = "interpretation.task.created.v1"


class TaskCreatedV1(BaseModel):
    """An interpretation is due for a policy (the "interpretation due" task)."""

    task_id: uuid.UUID
    policy_item_id: uuid.UUID
    policy_title: str
    organization_id: uuid.UUID = Field(description="起草部门（谁起草、谁解读）")
    published_on: dt.date
    due_on: dt.date = Field(description="解读应发布日期")
    due_provisional: bool = Field(description="截止日期跨入尚未载入的年份时为临时日期")
