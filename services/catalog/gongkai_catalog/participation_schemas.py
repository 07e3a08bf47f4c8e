"""Request and response models of public participation and supervision (issue 9)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gongkai_catalog.participation_models import (
    COMMENT_STATUS_LABELS,
    CONSULTATION_STATUS_LABELS,
    FINDING_SOURCE_LABELS,
    FINDING_STATUS_LABELS,
    REJECTION_LABELS,
    CommentStatus,
    ConsultationStatus,
    FindingSource,
    FindingStatus,
    RejectionReason,
)

# --------------------------------------------------------------------------------------------
# Consultations
# --------------------------------------------------------------------------------------------


class ConsultationCreate(BaseModel):
    organization_id: uuid.UUID = Field(description="决策承办机关")
    title: str = Field(min_length=1, max_length=300, description="征求意见事项（决策事项名称）")
    draft_item_id: uuid.UUID = Field(description="决策草案及其说明：本机关目录中的信息（开始征求意见前须已发布）")
    basis: str = Field(min_length=1, max_length=20_000, description="决策依据")
    channels: str | None = Field(default=None, max_length=2000, description="其他提出意见的方式（信函、传真、邮箱等）")
    period_days: int = Field(ge=1, le=365, description="征求意见期限（日），一般不少于30日")
    shortened_reason: str | None = Field(default=None, max_length=2000, description="期限少于通常期限时的说明")


class DocumentRef(BaseModel):
    id: uuid.UUID
    title: str = Field(description="标题")
    index_number: str | None = Field(default=None, description="索引号")
    status: str = Field(description="状态")
    published_on: dt.date | None = Field(default=None, description="发布日期")


class ConsultationOut(BaseModel):
    """A consultation as anyone sees it: counts only, never a commenter."""

    id: uuid.UUID
    organization_id: uuid.UUID
    title: str
    basis: str = Field(description="决策依据")
    channels: str | None = None
    period_days: int = Field(description="征求意见期限（日）")
    shortened_reason: str | None = Field(default=None, description="缩短期限的说明")
    status: ConsultationStatus
    status_label: str
    opened_on: dt.date | None = Field(default=None, description="开始日期")
    closes_on: dt.date | None = Field(default=None, description="截止日期（当日24时止）")
    accepting_comments: bool = Field(description="是否正在接收意见")
    report_due_on: dt.date | None = Field(default=None, description="反馈情况应公开日期")
    draft: DocumentRef | None = Field(default=None, description="决策草案（目录中的信息）")
    report: DocumentRef | None = Field(default=None, description="意见采纳情况反馈（目录中的信息）")
    comments_received: int = Field(description="收到意见数")
    comments_valid: int = Field(description="有效意见数")
    comments_adopted: int = Field(description="采纳意见数")


class CommentIn(BaseModel):
    # Length and emptiness are checked by the service against the setting, so the limit can change without
    # a new schema; max_length here only bounds the request.
    content: str = Field(max_length=200_000, description="意见内容")
    clause: str | None = Field(default=None, max_length=200, description="针对的条款或内容")
    author_name: str | None = Field(default=None, max_length=100, description="姓名（可不填，不公开）")
    contact: str | None = Field(default=None, max_length=200, description="联系方式（可不填，不公开）")


class CommentReceipt(BaseModel):
    """What a commenter gets back: the receipt, nothing of what they sent about themselves."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    submitted_on: dt.date = Field(description="提交日期")
    message: str = Field(default="意见已收到，感谢参与。", description="回执")


class CommentOut(BaseModel):
    """A comment as the department's staff see it (the contact is kept for answering, never published)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    content: str
    clause: str | None
    author_name: str | None
    contact: str | None
    submitted_on: dt.date
    status: CommentStatus
    findings: list[dict[str, Any]] = Field(description="敏感内容检查结果（已遮盖）")
    rejection_reason: RejectionReason | None
    moderation_note: str | None
    point_id: uuid.UUID | None

    @computed_field(description="状态（中文）")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        return COMMENT_STATUS_LABELS[self.status]

    @computed_field(description="不予受理理由（中文）")  # type: ignore[prop-decorator]
    @property
    def rejection_label(self) -> str | None:
        return REJECTION_LABELS[self.rejection_reason] if self.rejection_reason else None


class ModerationIn(BaseModel):
    decision: Literal["accept", "reject"] = Field(description="accept 受理为有效意见 / reject 不予受理")
    reason: RejectionReason | None = Field(default=None, description="不予受理理由：spam/abuse/personal_data/off_topic")
    note: str | None = Field(default=None, max_length=2000, description="审核说明（受理含敏感内容的意见时必填）")


class PointIn(BaseModel):
    summary: str = Field(min_length=1, max_length=5000, description="主要观点")
    comment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10_000, description="归入该观点的意见")
    adopted: bool | None = Field(default=None, description="是否采纳")
    response: str | None = Field(default=None, max_length=5000, description="采纳情况或未采纳理由")


class PointUpdate(BaseModel):
    summary: str | None = Field(default=None, max_length=5000)
    comment_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)
    adopted: bool | None = None
    response: str | None = Field(default=None, max_length=5000)


class PointOut(BaseModel):
    id: uuid.UUID
    summary: str
    adopted: bool | None
    response: str | None
    comments: int = Field(description="归入的有效意见数")


class ReportIn(BaseModel):
    override_reason: str | None = Field(
        default=None, max_length=2000, description="敏感内容检查有发现时，审核人员放行的理由"
    )


# --------------------------------------------------------------------------------------------
# Freshness
# --------------------------------------------------------------------------------------------


class ColumnStateOut(BaseModel):
    organization_id: uuid.UUID
    organization_name: str
    category_id: uuid.UUID
    category_name: str = Field(description="栏目")
    category_key: str | None
    rhythm: str = Field(description="news/notice/none")
    rhythm_label: str = Field(description="更新要求")
    state: str = Field(description="empty/fresh/stale/no_rhythm")
    state_label: str = Field(description="空白栏目/按要求更新/超期未更新/已有内容")
    published_count: int = Field(description="已发布信息数")
    last_published_on: dt.date | None = Field(description="最近发布日期")
    fresh_until: dt.date | None = Field(description="最迟应更新日期")
    stale_since: dt.date | None = Field(description="超期起始日")
    days_silent: int | None = Field(description="未更新天数")


# --------------------------------------------------------------------------------------------
# Rectification
# --------------------------------------------------------------------------------------------


class FindingCreate(BaseModel):
    department_id: uuid.UUID = Field(description="整改责任部门")
    source: FindingSource = Field(
        description="问题来源：own_check 本级检查 / superior_notice 上级通报 / third_party 第三方评估"
    )
    source_reference: str | None = Field(default=None, max_length=300, description="来源文件（如通报文号）")
    problem: str = Field(min_length=1, max_length=5000, description="问题描述")
    requirement: str = Field(min_length=1, max_length=5000, description="整改要求")
    found_on: dt.date | None = Field(default=None, description="发现日期（缺省为当日）")
    deadline: dt.date = Field(description="整改期限")


class FindingAnswer(BaseModel):
    answer: str = Field(min_length=1, max_length=20_000, description="整改情况")
    evidence: list[str] = Field(
        default_factory=list, max_length=50, description="佐证材料（附件标识、信息标识或整改后页面地址）"
    )


class FindingClose(BaseModel):
    note: str | None = Field(default=None, max_length=2000, description="销号意见")


class FindingReturn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="退回理由")


class FindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    department_id: uuid.UUID
    source: FindingSource
    source_reference: str | None
    problem: str
    requirement: str
    found_on: dt.date
    deadline: dt.date
    status: FindingStatus
    answer: str | None
    evidence: list[str]
    answered_on: dt.date | None
    return_reason: str | None
    closed_on: dt.date | None
    overdue: bool = Field(default=False, description="是否逾期未销号")
    history: list[dict[str, Any]] = Field(description="办理过程")

    @computed_field(description="问题来源（中文）")  # type: ignore[prop-decorator]
    @property
    def source_label(self) -> str:
        return FINDING_SOURCE_LABELS[self.source]

    @computed_field(description="状态（中文）")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        return FINDING_STATUS_LABELS[self.status]


class NoticeIn(BaseModel):
    organization_id: uuid.UUID = Field(description="发布机关（通报以其名义发布）")
    department_id: uuid.UUID | None = Field(default=None, description="只通报该部门（缺省为全部部门）")
    start: dt.date = Field(description="期间开始（发现日期）")
    end: dt.date = Field(description="期间结束")
    title: str | None = Field(default=None, max_length=500, description="标题（缺省自动生成）")
    category_id: uuid.UUID | None = Field(default=None, description="目录栏目")


class NoticeOut(BaseModel):
    item_id: uuid.UUID = Field(description="通报（目录中的信息，已提交审查）")
    title: str
    status: str


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


class FiguresOut(BaseModel):
    """The assessment figures of one organization and period (issue 9 point 4)."""

    organization_id: uuid.UUID
    start: dt.date
    end: dt.date
    as_of: dt.date = Field(description="统计截至日期")
    consultations_held: int = Field(description="开展意见征集次数")
    comments_received: int = Field(description="收到意见数")
    comments_valid: int = Field(description="有效意见数")
    comments_adopted: int = Field(description="采纳意见数")
    adoption_rate: float | None = Field(description="采纳率（采纳意见数/有效意见数）")
    reports_due: int = Field(description="应公开反馈情况数")
    reports_on_time: int = Field(description="按期公开反馈情况数")
    reports_late_or_missing: int = Field(description="逾期或未公开反馈情况数")
    columns: int = Field(description="栏目数")
    columns_stale: int = Field(description="超期未更新栏目数")
    columns_empty: int = Field(description="空白栏目数")
    findings: int = Field(description="交办整改问题数")
    findings_open: int = Field(description="未销号问题数")
    findings_closed_on_time: int = Field(description="按期销号问题数")
    findings_closed_late: int = Field(description="逾期销号问题数")
    findings_overdue: int = Field(description="逾期未销号问题数")


__all__ = [
    "CONSULTATION_STATUS_LABELS",
    "ColumnStateOut",
    "CommentIn",
    "CommentOut",
    "CommentReceipt",
    "ConsultationCreate",
    "ConsultationOut",
    "DocumentRef",
    "FiguresOut",
    "FindingAnswer",
    "FindingClose",
    "FindingCreate",
    "FindingOut",
    "FindingReturn",
    "ModerationIn",
    "NoticeIn",
    "NoticeOut",
    "PointIn",
    "PointOut",
    "PointUpdate",
    "ReportIn",
]
