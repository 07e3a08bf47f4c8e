"""Events the interpretation service publishes.

| subject (type ``….v1``)                    | when                                                          |
|--------------------------------------------|---------------------------------------------------------------|
| interpretation.task.created                | an interpretation is due for a published policy (三同步), or a  |
|                                            | supplementary one (补充解读) for an opinion event about it      |
| interpretation.task.due_soon               | its due date is near and it is not published (once per task)  |
| interpretation.task.overdue                | its due date passed unpublished (once per task)               |
| interpretation.interpretation.published    | published: the catalog publishes a linked 政策解读 (双向关联)    |
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

__all__ = [
    "INTERPRETATION_PUBLISHED_V1",
    "TASK_CREATED_V1",
    "TASK_DUE_SOON_V1",
    "TASK_OVERDUE_V1",
    "InterpretationFormV1",
    "InterpretationPublishedV1",
    "QAPairV1",
    "TaskCreatedV1",
    "TaskDeadlineV1",
]

TASK_CREATED_V1 = "interpretation.task.created.v1"
TASK_DUE_SOON_V1 = "interpretation.task.due_soon.v1"
TASK_OVERDUE_V1 = "interpretation.task.overdue.v1"
INTERPRETATION_PUBLISHED_V1 = "interpretation.interpretation.published.v1"


class TaskCreatedV1(BaseModel):
    """An interpretation is due for a policy (the "interpretation due" task)."""

    task_id: uuid.UUID
    policy_item_id: uuid.UUID
    policy_title: str
    organization_id: uuid.UUID = Field(description="起草部门（谁起草、谁解读）")
    published_on: dt.date
    due_on: dt.date = Field(description="解读应发布日期")
    due_provisional: bool = Field(description="截止日期跨入尚未载入的年份时为临时日期")
    # Added with issue 5 (optional, so v1 consumers stay compatible).
    head_name: str | None = Field(default=None, description="第一解读人（部门主要负责人）")
    registered_early: bool = Field(default=False, description="政策发布前已登记解读（三同步）")
    # Added for supplementary interpretations (optional, so v1 consumers stay compatible).
    kind: str = Field(default="regular", description="任务类型：regular 政策解读 / supplementary 补充解读")
    kind_label: str = Field(default="政策解读", description="任务类型（中文）：政策解读/补充解读")
    opinion_event_id: uuid.UUID | None = Field(default=None, description="引起补充解读的舆情事件")
    opinion_event_title: str | None = Field(default=None, description="舆情事件标题")
    due_at: dt.datetime | None = Field(
        default=None, description="补充解读的截止时间（按小时计，国办发〔2016〕61号）；常规解读为空"
    )


class TaskDeadlineV1(BaseModel):
    """An interpretation's due date is near (due_soon) or passed (overdue) and it is not published."""

    task_id: uuid.UUID
    policy_item_id: uuid.UUID
    policy_title: str
    organization_id: uuid.UUID = Field(description="起草部门")
    head_name: str | None = Field(default=None, description="第一解读人")
    due_on: dt.date = Field(description="解读应发布日期")
    due_provisional: bool = Field(description="截止日期为临时日期")
    status: str = Field(description="当前状态：assigned/drafting/review")
    # Added for supplementary interpretations (optional, so v1 consumers stay compatible).
    kind: str = Field(default="regular", description="任务类型：regular 政策解读 / supplementary 补充解读")
    opinion_event_id: uuid.UUID | None = Field(default=None, description="引起补充解读的舆情事件")
    due_at: dt.datetime | None = Field(default=None, description="补充解读的截止时间（按小时计）")


class InterpretationFormV1(BaseModel):
    form: str = Field(description="解读形式：text/graphic/qa/video/animation/case/expert/interview/press_conference")
    form_label: str = Field(
        description="解读形式（中文）：文字/图解/问答/音视频/动漫/案例/专家解读/在线访谈/新闻发布会"
    )
    title: str | None = Field(default=None, description="标题")
    url: str | None = Field(default=None, description="链接")
    attachment_id: str | None = Field(default=None, description="附件标识")


class QAPairV1(BaseModel):
    question: str = Field(description="问")
    answer: str = Field(description="答")


class InterpretationPublishedV1(BaseModel):
    """An interpretation was published: the catalog publishes a 政策解读 item linked to its policy both ways."""

    interpretation_id: uuid.UUID = Field(description="解读标识（即解读任务标识）")
    task_id: uuid.UUID
    policy_item_id: uuid.UUID = Field(description="所解读的政策文件（目录条目）")
    policy_title: str
    policy_document_number: str | None = Field(default=None, description="政策文号")
    organization_id: uuid.UUID = Field(description="解读机关（起草部门）")
    organization_name: str | None = None
    head_name: str | None = Field(default=None, description="第一解读人")
    title: str = Field(description="解读标题")
    text: str = Field(description="解读正文")
    forms: list[InterpretationFormV1] = Field(default_factory=list, description="解读形式及其附件或链接")
    qa_pairs: list[QAPairV1] = Field(default_factory=list, description="简明问答")
    published_on: dt.date = Field(description="解读发布日期")
    due_on: dt.date | None = Field(default=None, description="解读应发布日期")
    on_time: bool = Field(description="是否按时解读（三同步）")
    quality_score: int | None = Field(default=None, description="质量评分（0-100）")
    differences: list[str] = Field(default_factory=list, description="新旧政策差异（逐条）")
    # Added for supplementary interpretations (optional, so v1 consumers stay compatible): a policy may have
    # one regular interpretation and several supplementary ones, each its own interpretation_id.
    kind: str = Field(default="regular", description="解读类型：regular 政策解读 / supplementary 补充解读")
    opinion_event_id: uuid.UUID | None = Field(default=None, description="补充解读所回应的舆情事件")
