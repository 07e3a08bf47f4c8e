from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, computed_field

from gongkai_interpretation.models import TASK_KIND_LABELS, InterpretationForm, TaskKind, TaskStatus

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    kind: TaskKind = Field(
        default=TaskKind.regular, description="任务类型：regular 政策解读（每个政策一个）/ supplementary 补充解读"
    )
    policy_item_id: uuid.UUID | None = Field(description="政策文件（政策发布前登记的解读为空，发布后关联）")
    policy_title: str
    policy_document_number: str | None
    policy_reference: str | None = Field(default=None, description="发布前登记时给出的政策标识或文号")
    registered_early: bool = Field(default=False, description="政策发布前已登记（三同步）")
    supersedes_item_id: uuid.UUID | None = Field(default=None, description="新政策所替代的旧政策")
    organization_id: uuid.UUID = Field(description="起草部门（谁起草、谁解读）")
    head_name: str | None = Field(default=None, description="第一解读人（部门主要负责人）")
    head_title: str | None = Field(default=None, description="第一解读人职务")
    drafter: str | None = Field(default=None, description="起草人")
    published_on: dt.date | None = Field(description="政策发布日期")
    due_working_days: int | None = Field(description="应在政策发布后几个工作日内解读（补充解读按小时计，为空）")
    due_on: dt.date | None = Field(description="解读截止日期（补充解读为截止时间所在日期）")
    due_at: dt.datetime | None = Field(
        default=None,
        description="补充解读截止时间：舆情升级后若干小时（国办发〔2016〕61号：48小时；重大、特别重大24小时）",
    )
    due_hours: float | None = Field(default=None, description="补充解读时限（小时）")
    opinion_event_id: uuid.UUID | None = Field(default=None, description="引起补充解读的舆情事件")
    opinion_event: dict[str, Any] | None = Field(
        default=None, description="舆情事件：标题、领域、关键词、概要、风险等级、61号必须回应情形、升级时间"
    )
    due_provisional: bool = Field(description="截止日期为临时日期（跨入尚未载入节假日安排的年份）")
    status: TaskStatus
    title: str | None = Field(default=None, description="解读标题")
    text: str = Field(default="", description="解读正文")
    forms: list[dict[str, Any]] = Field(default_factory=list, description="解读形式")
    qa_pairs: list[dict[str, Any]] = Field(default_factory=list, description="简明问答")
    differences: dict[str, Any] | None = Field(default=None, description="新旧政策逐条差异")
    quality_score: int | None = Field(default=None, description="发布时的质量评分")
    override_reason: str | None = Field(default=None, description="低于质量门槛仍发布的理由")
    published_at: dt.datetime | None = Field(default=None, description="解读发布时间")

    @computed_field(description="任务类型（中文）：政策解读/补充解读")  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> str:
        return TASK_KIND_LABELS[self.kind]


class RegisterIn(BaseModel):
    """Register an interpretation before its policy is published (三同步: 同步组织、同步审签、同步部署)."""

    organization_id: uuid.UUID = Field(description="起草部门")
    policy_title: Text200 = Field(description="政策文件标题")
    policy_item_id: uuid.UUID | None = Field(default=None, description="政策在目录中的标识（已知时）")
    policy_document_number: str | None = Field(
        default=None, min_length=1, max_length=100, description="政策文号（目录标识未知时据此关联）"
    )
    drafter: str | None = Field(default=None, max_length=100, description="起草人")
    head_name: str | None = Field(default=None, max_length=100, description="第一解读人")


class AssignmentIn(BaseModel):
    head_name: str | None = Field(
        default=None, min_length=1, max_length=100, description="第一解读人（部门主要负责人）"
    )
    head_title: str | None = Field(default=None, max_length=100, description="职务")
    drafter: str | None = Field(default=None, min_length=1, max_length=100, description="起草人")


class FormIn(BaseModel):
    form: InterpretationForm = Field(description="解读形式")
    title: str | None = Field(default=None, max_length=200, description="标题")
    url: str | None = Field(default=None, max_length=2000, description="链接（音视频、在线访谈等）")
    attachment_id: str | None = Field(default=None, max_length=200, description="附件标识（图解、动漫等文件）")


class QAPairIn(BaseModel):
    question: str = Field(min_length=1, max_length=500, description="问")
    answer: str = Field(min_length=1, max_length=5000, description="答")


class ContentIn(BaseModel):
    title: str | None = Field(default=None, max_length=500, description="解读标题")
    text: str = Field(default="", max_length=200_000, description="解读正文")
    forms: list[FormIn] = Field(default_factory=list, description="解读形式及附件或链接")
    qa_pairs: list[QAPairIn] = Field(default_factory=list, description="简明问答")


class OpinionIn(BaseModel):
    opinion: str | None = Field(default=None, max_length=5000, description="意见")


class ReturnIn(BaseModel):
    opinion: str = Field(min_length=1, max_length=5000, description="退回意见（必填）")


class PublishIn(BaseModel):
    opinion: str | None = Field(default=None, max_length=5000, description="审核意见")
    override_reason: str | None = Field(
        default=None, min_length=1, max_length=2000, description="质量评分低于门槛时发布的理由（审核人填写）"
    )


class DraftIn(BaseModel):
    backend: Literal["deterministic", "llm"] = Field(default="deterministic", description="起草方式")


class HistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: dt.datetime
    actor: str = Field(description="操作人")
    action: str = Field(description="操作")
    from_status: str | None
    to_status: str | None
    opinion: str | None = Field(description="意见")


class ReasonOut(BaseModel):
    code: str
    title: str
    points: int
    max_points: int
    detail: str


class QualityOut(BaseModel):
    score: int = Field(description="质量评分（0-100）")
    passed: bool = Field(description="是否达到发布门槛")
    min_score: int = Field(description="发布门槛")
    copied_share: float = Field(description="照抄政策原文的比例")
    elements_covered: list[str]
    elements_missing: list[str]
    reasons: list[ReasonOut]


class FiguresRow(BaseModel):
    organization_id: uuid.UUID | None = Field(description="机关（合计行为空）")
    organization_name: str | None
    policies: int = Field(description="政策文件数")
    interpreted: int = Field(description="已解读数")
    interpretation_rate: float | None = Field(description="解读率")
    on_time: int = Field(description="按时解读数")
    on_time_rate: float | None = Field(description="按时解读率")
    non_text_share: float | None = Field(description="已发布解读中含非文字形式的比例")
    average_quality: float | None = Field(description="平均质量评分")


class SupplementaryFiguresRow(BaseModel):
    organization_id: uuid.UUID | None = Field(description="机关（合计行为空）")
    organization_name: str | None
    opened: int = Field(description="补充解读任务数（舆情升级日期在期间内）")
    published: int = Field(description="已发布的补充解读数")
    on_time: int = Field(description="在截止时间前发布的补充解读数（国办发〔2016〕61号时限）")
    on_time_rate: float | None = Field(description="补充解读按时率（按时发布数 / 任务数）")


class SupplementaryFigures(BaseModel):
    rows: list[SupplementaryFiguresRow] = Field(default_factory=list)
    total: SupplementaryFiguresRow | None = None


class FiguresOut(BaseModel):
    start: dt.date
    end: dt.date
    rows: list[FiguresRow] = Field(description="政策解读（每个政策只计常规解读，补充解读不重复计入）")
    total: FiguresRow | None
    supplementary: SupplementaryFigures = Field(
        default_factory=SupplementaryFigures, description="补充解读（舆情引起），单独统计"
    )
