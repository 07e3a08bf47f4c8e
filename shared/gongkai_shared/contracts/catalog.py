"""Events the catalog publishes.

| subject (type ``….v1``)            | when                                                           |
|------------------------------------|----------------------------------------------------------------|
| catalog.organization.created       | the office registered a 机关                                    |
| catalog.organization.updated       | its name, code, type, parent or head (第一解读人) changed        |
| catalog.item.published             | any item was published (requests answers "already published") |
| catalog.policy.published           | a policy was published: its interpretation is due (三同步)       |
| catalog.policy.superseded          | a published policy superseded an older one (立、改、废)            |
| catalog.item.validity_changed      | an item became 废止 (repealed) or 失效 (expired, superseded)     |
| catalog.item.due_soon              | the 20-working-day publication deadline is near (条例 art. 26)  |
| catalog.item.overdue               | the publication deadline passed unpublished (条例 art. 26)      |
| catalog.consultation.opened        | a draft decision opened for public comment (意见征集)            |
| catalog.consultation.closed        | its comment period ended                                       |
| catalog.consultation.report_published | its feedback report (意见采纳情况) was published              |
| catalog.consultation.report_overdue   | no feedback report N days after the period (a setting)      |
| catalog.column.stale               | a column went silent past its rhythm (国办秘函〔2019〕19号), once |
| catalog.finding.overdue            | a rectification finding passed its deadline unclosed, once     |
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

__all__ = [
    "ITEM_DUE_SOON_V1",
    "ITEM_OVERDUE_V1",
    "ITEM_PUBLISHED_V1",
    "ITEM_VALIDITY_CHANGED_V1",
    "ORGANIZATION_CREATED_V1",
    "ORGANIZATION_UPDATED_V1",
    "POLICY_PUBLISHED_V1",
    "POLICY_SUPERSEDED_V1",
    "ItemDeadlineV1",
    "ItemPublishedV1",
    "ItemValidityChangedV1",
    "OrganizationV1",
    "PolicyPublishedV1",
    "PolicySupersededV1",
]

ORGANIZATION_CREATED_V1 = "catalog.organization.created.v1"
ORGANIZATION_UPDATED_V1 = "catalog.organization.updated.v1"
ITEM_PUBLISHED_V1 = "catalog.item.published.v1"
POLICY_PUBLISHED_V1 = "catalog.policy.published.v1"
POLICY_SUPERSEDED_V1 = "catalog.policy.superseded.v1"
ITEM_VALIDITY_CHANGED_V1 = "catalog.item.validity_changed.v1"
ITEM_DUE_SOON_V1 = "catalog.item.due_soon.v1"
ITEM_OVERDUE_V1 = "catalog.item.overdue.v1"


class OrganizationV1(BaseModel):
    """A 机关 as other services keep it (payload of organization created/updated)."""

    organization_id: uuid.UUID
    code: str | None = Field(default=None, description="统一社会信用代码（18位）或组织机构代码（9位）")
    name: str = Field(description="机关名称")
    type: str = Field(description="机关类型：government/department/district/township/other")
    type_label: str = Field(description="机关类型（中文）：政府/部门/县区/镇街/其他")
    parent_id: uuid.UUID | None = Field(default=None, description="上级机关")
    head_name: str | None = Field(default=None, description="主要负责人（第一解读人）姓名")
    head_title: str | None = Field(default=None, description="主要负责人职务")
    phone: str | None = Field(default=None, description="办公电话")
    address: str | None = Field(default=None, description="办公地址")
    office_hours: str | None = Field(default=None, description="办公时间")


class PolicyPublishedV1(BaseModel):
    """A policy document (规章, 行政规范性文件, …) was published: its interpretation is now due (三同步)."""

    item_id: uuid.UUID
    title: str = Field(description="标题")
    document_number: str | None = Field(default=None, description="文号")
    index_number: str | None = Field(default=None, description="索引号")
    kind: str = Field(description="文件类型")
    organization_id: uuid.UUID = Field(description="发布机构（起草部门）")
    organization_name: str | None = None
    body: str = Field(description="全文")
    written_on: dt.date | None = Field(default=None, description="成文日期")
    published_on: dt.date = Field(description="发布日期")
    effective_on: dt.date | None = Field(default=None, description="实施日期")
    supersedes_item_id: uuid.UUID | None = Field(default=None, description="被替代的旧文件")
    # Added with issue 3 (optional, so v1 consumers and producers stay compatible).
    summary: str | None = Field(default=None, description="内容概述")
    kind_label: str | None = Field(default=None, description="文件类型（中文）")
    formed_on: dt.date | None = Field(default=None, description="生成日期")
    abolish_on: dt.date | None = Field(default=None, description="废止日期（预定）")
    publisher: str | None = Field(default=None, description="发布机构名称")
    subject_category: str | None = Field(default=None, description="主题分类")
    keywords: list[str] = Field(default_factory=list, description="主题词")
    supersedes_document_number: str | None = Field(default=None, description="被替代旧文件的文号")
    head_name: str | None = Field(default=None, description="发布机构主要负责人（第一解读人）")
    #: Added 2026-11-23 (optional: v1 stays compatible). An item of the former platform brought over with its
    #: original date: no interpretation is due for it now (三同步 applies to new policies).
    archived: bool = Field(default=False, description="存量导入（原平台已发布的历史信息，非新发布）")


class ItemPublishedV1(BaseModel):
    """Any item was published in the catalog (主动公开). No body: consumers fetch it if they need it."""

    item_id: uuid.UUID
    index_number: str = Field(description="索引号")
    title: str = Field(description="标题")
    summary: str | None = Field(default=None, description="内容概述")
    document_number: str | None = Field(default=None, description="文号")
    kind: str = Field(description="文件类型")
    kind_label: str = Field(description="文件类型（中文）")
    is_policy: bool = Field(description="是否为政策文件")
    organization_id: uuid.UUID = Field(description="发布机构")
    category_id: uuid.UUID | None = Field(default=None, description="目录类别")
    keywords: list[str] = Field(default_factory=list, description="主题词")
    formed_on: dt.date | None = Field(default=None, description="生成日期")
    published_on: dt.date = Field(description="发布日期")
    due_on: dt.date | None = Field(default=None, description="应发布日期（条例第二十六条）")
    published_late: bool = Field(default=False, description="是否超过20个工作日才发布")
    # Added with issue 3 point 8 (optional, so v1 consumers and producers stay compatible).
    origin: str | None = Field(
        default=None, description="来源系统：interpretation（政策解读系统）、sentiment（舆情回应）；目录内起草的为空"
    )
    origin_id: uuid.UUID | None = Field(default=None, description="来源系统中的标识（如解读标识）")
    interprets_item_id: uuid.UUID | None = Field(default=None, description="政策解读所解读的政策文件（双向关联）")
    archived: bool = Field(default=False, description="存量导入（原平台已发布的历史信息，非新发布）")


class PolicySupersededV1(BaseModel):
    """A newly published policy replaced an older one (立、改、废); both stay public, linked both ways."""

    item_id: uuid.UUID = Field(description="被替代的旧文件")
    title: str
    document_number: str | None = None
    index_number: str | None = None
    organization_id: uuid.UUID
    superseded_by_item_id: uuid.UUID = Field(description="替代它的新文件")
    superseded_by_title: str
    superseded_by_document_number: str | None = None
    superseded_on: dt.date = Field(description="新文件发布日期")
    new_effective_on: dt.date | None = Field(default=None, description="新文件实施日期")


class ItemValidityChangedV1(BaseModel):
    """An item's 有效性 changed: 废止 (repealed by decision) or 失效 (its end date passed, or superseded)."""

    item_id: uuid.UUID
    title: str
    document_number: str | None = None
    index_number: str | None = None
    kind: str
    is_policy: bool
    organization_id: uuid.UUID
    validity: str = Field(description="effective/expired/repealed")
    validity_label: str = Field(description="有效/失效/废止")
    changed_on: dt.date = Field(description="废止或失效日期")
    reason: str | None = Field(default=None, description="原因（废止理由，或 superseded/expired）")


class ItemDeadlineV1(BaseModel):
    """The art. 26 publication deadline of an unpublished item is near (due_soon) or passed (overdue)."""

    item_id: uuid.UUID
    title: str
    organization_id: uuid.UUID
    formed_on: dt.date = Field(description="生成日期")
    due_on: dt.date = Field(description="应发布日期：生成日期起20个工作日（条例第二十六条）")
    due_provisional: bool = Field(description="截止日期跨入尚未载入的年份时为暂定日期")
    status: str = Field(description="当前状态")


# --------------------------------------------------------------------------------------------
# Public participation and supervision (issue 9). Added: subjects
#   catalog.consultation.opened / .closed / .report_published / .report_overdue,
#   catalog.column.stale, catalog.finding.overdue.
# No payload carries a commenter's name or contact (personal data stays in the catalog).
# --------------------------------------------------------------------------------------------

CONSULTATION_OPENED_V1 = "catalog.consultation.opened.v1"
CONSULTATION_CLOSED_V1 = "catalog.consultation.closed.v1"
CONSULTATION_REPORT_PUBLISHED_V1 = "catalog.consultation.report_published.v1"
CONSULTATION_REPORT_OVERDUE_V1 = "catalog.consultation.report_overdue.v1"
COLUMN_STALE_V1 = "catalog.column.stale.v1"
FINDING_OVERDUE_V1 = "catalog.finding.overdue.v1"

__all__ += [
    "COLUMN_STALE_V1",
    "CONSULTATION_CLOSED_V1",
    "CONSULTATION_OPENED_V1",
    "CONSULTATION_REPORT_OVERDUE_V1",
    "CONSULTATION_REPORT_PUBLISHED_V1",
    "FINDING_OVERDUE_V1",
    "ColumnStaleV1",
    "ConsultationV1",
    "FindingOverdueV1",
]


class ConsultationV1(BaseModel):
    """A consultation (意见征集) on a draft major decision opened, closed, got its feedback report published, or
    its feedback report is overdue. Counts only: never a commenter's name or contact."""

    consultation_id: uuid.UUID
    organization_id: uuid.UUID = Field(description="决策承办机关")
    title: str = Field(description="征求意见事项")
    draft_item_id: uuid.UUID = Field(description="决策草案（目录中的信息）")
    status: str = Field(description="draft/open/closed")
    opened_on: dt.date | None = Field(default=None, description="征求意见开始日期")
    closes_on: dt.date | None = Field(default=None, description="征求意见截止日期（含当日）")
    period_days: int = Field(description="征求意见期限（日）")
    shortened_reason: str | None = Field(default=None, description="期限少于通常期限的说明")
    report_due_on: dt.date | None = Field(default=None, description="反馈情况应公开日期")
    comments_received: int = Field(default=0, description="收到意见数")
    comments_valid: int = Field(default=0, description="有效意见数")
    comments_adopted: int = Field(default=0, description="采纳意见数")
    report_item_id: uuid.UUID | None = Field(default=None, description="意见采纳情况反馈（目录中的信息）")
    report_index_number: str | None = Field(default=None, description="反馈的索引号")
    report_published_on: dt.date | None = Field(default=None, description="反馈发布日期")


class ColumnStaleV1(BaseModel):
    """A catalog column (栏目) of an organization went silent past its rhythm (国办秘函〔2019〕19号: 动态类栏目
    2周、通知公告和政策文件类栏目6个月未更新): sent once per staleness."""

    organization_id: uuid.UUID
    organization_name: str
    category_id: uuid.UUID = Field(description="栏目（目录类别）")
    category_name: str
    rhythm: str = Field(description="news（动态类）/notice（通知公告、政策文件类）")
    rhythm_label: str = Field(description="更新要求（中文）")
    last_published_on: dt.date = Field(description="最近一次发布日期")
    stale_since: dt.date = Field(description="自该日起视为未按要求更新")
    days_silent: int = Field(description="未更新天数")


class FindingOverdueV1(BaseModel):
    """A rectification finding (问题整改) passed its deadline without being closed (销号)."""

    finding_id: uuid.UUID
    department_id: uuid.UUID = Field(description="整改责任部门")
    source: str = Field(description="own_check/superior_notice/third_party")
    problem: str = Field(description="问题")
    deadline: dt.date = Field(description="整改期限")
    status: str = Field(description="assigned/answered/returned")
