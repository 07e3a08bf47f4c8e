from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from gongkai_interpretation.models import TaskStatus


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    policy_item_id: uuid.UUID = Field(description="政策文件")
    policy_title: str
    policy_document_number: str | None
    organization_id: uuid.UUID = Field(description="起草部门（谁起草、谁解读）")
    published_on: dt.date = Field(description="政策发布日期")
    due_working_days: int = Field(description="应在发布后几个工作日内解读")
    due_on: dt.date = Field(description="解读截止日期")
    due_provisional: bool = Field(description="截止日期为临时日期（跨入尚未载入节假日安排的年份）")
    status: TaskStatus
