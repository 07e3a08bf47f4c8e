from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from gongkai_shared.validators import AgencyCode
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field, field_validator
from pydantic_core import PydanticCustomError

from gongkai_catalog.models import (
    ITEM_KIND_LABELS,
    ITEM_STATUS_LABELS,
    ORGANIZATION_TYPE_LABELS,
    POLICY_KINDS,
    SUGGESTION_STATUS_LABELS,
    VALIDITY_LABELS,
    ItemKind,
    ItemStatus,
    OrganizationType,
    SuggestionStatus,
    Validity,
)
from gongkai_catalog.numbers import normalize_document_number
from gongkai_catalog.standard_catalog import FIELDS, normalize_choice


def _document_number(value: str) -> str:
    try:
        return normalize_document_number(value)
    except ValueError as exc:
        raise PydanticCustomError("document_number_invalid", str(exc)) from None


DocumentNumber = Annotated[
    str,
    Field(max_length=100, description="文号，如 国办发〔2019〕54号（也接受 [] 与 () 括号，统一为〔〕）"),
    AfterValidator(_document_number),
]
Keyword = Annotated[str, Field(min_length=1, max_length=50)]


# --------------------------------------------------------------------------------------------
# Organizations
# --------------------------------------------------------------------------------------------


class OrganizationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="机关名称")
    code: AgencyCode | None = Field(default=None, description="统一社会信用代码（18位）或组织机构代码（9位）")
    type: OrganizationType = Field(
        default=OrganizationType.department, description="机关类型：政府/部门/县区/镇街/其他"
    )
    parent_id: uuid.UUID | None = Field(default=None, description="上级机关")
    address: str | None = Field(default=None, max_length=300, description="办公地址")
    office_hours: str | None = Field(default=None, max_length=200, description="办公时间")
    phone: str | None = Field(default=None, max_length=50, description="办公电话")
    head_name: str | None = Field(default=None, max_length=100, description="主要负责人（第一解读人）姓名")
    head_title: str | None = Field(default=None, max_length=100, description="主要负责人职务")


class OrganizationUpdate(BaseModel):
    """Only the fields sent change; ``null`` clears an optional field."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description="机关名称")
    code: AgencyCode | None = Field(default=None, description="统一社会信用代码或组织机构代码")
    type: OrganizationType | None = Field(default=None, description="机关类型")
    parent_id: uuid.UUID | None = Field(default=None, description="上级机关")
    address: str | None = Field(default=None, max_length=300, description="办公地址")
    office_hours: str | None = Field(default=None, max_length=200, description="办公时间")
    phone: str | None = Field(default=None, max_length=50, description="办公电话")
    head_name: str | None = Field(default=None, max_length=100, description="主要负责人（第一解读人）姓名")
    head_title: str | None = Field(default=None, max_length=100, description="主要负责人职务")


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    code: str | None
    type: OrganizationType
    parent_id: uuid.UUID | None
    address: str | None = None
    office_hours: str | None = None
    phone: str | None = None
    head_name: str | None = None
    head_title: str | None = None

    @computed_field(description="机关类型（中文）")  # type: ignore[prop-decorator]
    @property
    def type_label(self) -> str:
        return ORGANIZATION_TYPE_LABELS[self.type]


class OrganizationNode(OrganizationOut):
    children: list[OrganizationNode] = Field(default_factory=list, description="下级机关")


# --------------------------------------------------------------------------------------------
# Catalog structure
# --------------------------------------------------------------------------------------------


class CategoryCreate(BaseModel):
    parent_id: uuid.UUID | None = Field(default=None, description="上级类别（顶层为四个栏目）")
    name: str = Field(min_length=1, max_length=200, description="类别名称")
    basis: str | None = Field(default=None, max_length=200, description="依据，如 条例第二十条第（一）项")
    scope: str = Field(default="all", pattern="^(all|city_county|township)$", description="适用范围")
    position: int = Field(default=0, ge=0, le=10_000, description="排序")


class CategoryUpdate(BaseModel):
    parent_id: uuid.UUID | None = Field(default=None, description="上级类别")
    name: str | None = Field(default=None, min_length=1, max_length=200, description="类别名称")
    basis: str | None = Field(default=None, max_length=200, description="依据")
    scope: str | None = Field(default=None, pattern="^(all|city_county|township)$", description="适用范围")
    position: int | None = Field(default=None, ge=0, le=10_000, description="排序")


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str
    key: str | None
    basis: str | None
    scope: str
    position: int


class CategoryNode(CategoryOut):
    children: list[CategoryNode] = Field(default_factory=list)


class PilotAreaIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="试点领域名称")
    position: int = Field(default=0, ge=0, le=10_000)
    note: str | None = Field(default=None, max_length=300, description="来源说明")


class PilotAreaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    position: int
    note: str | None


def _entry_field(attr: str) -> Any:
    f = next(f for f in FIELDS if f.attr == attr)
    if f.required:
        return Field(min_length=1, max_length=f.max_length, description=f.header)
    return Field(default=None, max_length=f.max_length, description=f.header)


class CatalogEntryIn(BaseModel):
    """One entry of the 政务公开事项标准目录, with the nine fields of domain.md §1."""

    model_config = ConfigDict(str_strip_whitespace=True)

    matter_level1: str = _entry_field("matter_level1")
    matter_level2: str | None = _entry_field("matter_level2")
    content: str = _entry_field("content")
    basis: str = _entry_field("basis")
    time_limit: str = _entry_field("time_limit")
    subject: str = _entry_field("subject")
    channels: str = _entry_field("channels")
    audience: str = _entry_field("audience")
    method: str = _entry_field("method")
    level: str = _entry_field("level")
    pilot_area_id: uuid.UUID | None = Field(default=None, description="试点领域")
    position: int = Field(default=0, ge=0, le=1_000_000)

    @field_validator("audience", "method", "level")
    @classmethod
    def _choice(cls, value: str, info: Any) -> str:
        f = next(f for f in FIELDS if f.attr == info.field_name)
        try:
            return normalize_choice(value, f.choices, f.header)
        except ValueError as exc:
            raise PydanticCustomError("choice_invalid", str(exc)) from None


class CatalogEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    organization_id: uuid.UUID
    pilot_area_id: uuid.UUID | None
    matter_level1: str
    matter_level2: str | None
    content: str
    basis: str
    time_limit: str
    subject: str
    channels: str
    audience: str
    method: str
    level: str
    position: int


class ImportResult(BaseModel):
    imported: int = Field(description="导入条数")
    replaced: int = Field(description="被替换（删除）的原有条数")


class NegativeTermIn(BaseModel):
    term: str = Field(min_length=1, max_length=100, description="负面清单词语")
    category: str | None = Field(default=None, max_length=100, description="类别，如 个人隐私、内部事务信息")
    note: str | None = Field(default=None, max_length=300, description="说明")


class NegativeTermOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    organization_id: uuid.UUID
    term: str
    category: str | None
    note: str | None


# --------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------


class ItemCreate(BaseModel):
    organization_id: uuid.UUID = Field(description="发布机构")
    category_id: uuid.UUID | None = Field(default=None, description="目录类别（栏目）")
    title: str = Field(min_length=1, max_length=500, description="标题")
    summary: str | None = Field(default=None, max_length=5000, description="内容概述")
    kind: ItemKind = Field(description="文件类型")
    document_number: DocumentNumber | None = None
    body: str = Field(min_length=1, max_length=2_000_000, description="正文")
    publisher: str | None = Field(default=None, max_length=200, description="发布机构名称（默认为机关名称）")
    subject_category: str | None = Field(default=None, max_length=200, description="主题分类，如 综合政务\\政务公开")
    keywords: list[Keyword] = Field(default_factory=list, max_length=30, description="主题词")
    written_on: dt.date | None = Field(default=None, description="成文日期")
    formed_on: dt.date | None = Field(
        default=None, description="生成日期（信息形成或变更之日；缺省为成文日期，再缺省为登记当日）"
    )
    effective_on: dt.date | None = Field(default=None, description="实施日期")
    abolish_on: dt.date | None = Field(default=None, description="废止日期（到期后自动失效）")
    supersedes_id: uuid.UUID | None = Field(default=None, description="本文件替代的旧文件")


class OverrideIn(BaseModel):
    """Submitting or publishing; a reviewer may let findings of the sensitive check pass, with a reason."""

    override_reason: str | None = Field(
        default=None, min_length=4, max_length=2000, description="审核人员放行敏感内容检查结果的理由（将记入历史）"
    )


class ArchivedItemIn(ItemCreate, OverrideIn):
    """存量信息导入: an item already published on the office's former platform, brought over with its own 发布日期
    (and 索引号, when it had one), so that past years' catalogues, annual reports and assessments are whole."""

    published_on: dt.date = Field(description="原发布日期（不晚于今天）")
    index_number: str | None = Field(
        default=None,
        max_length=40,
        description="原索引号（机关代码/年份-五位序号）；缺省时按发布日期的年份编制",
    )
    interprets_item_id: uuid.UUID | None = Field(
        default=None, description="（仅政策解读）所解读的已发布政策文件：两者双向关联"
    )


class ItemUpdate(BaseModel):
    """A draft's fields; only those sent change (``null`` clears an optional one)."""

    category_id: uuid.UUID | None = None
    title: str | None = Field(default=None, min_length=1, max_length=500)
    summary: str | None = Field(default=None, max_length=5000)
    kind: ItemKind | None = None
    document_number: DocumentNumber | None = None
    body: str | None = Field(default=None, min_length=1, max_length=2_000_000)
    publisher: str | None = Field(default=None, max_length=200)
    subject_category: str | None = Field(default=None, max_length=200)
    keywords: list[Keyword] | None = Field(default=None, max_length=30)
    written_on: dt.date | None = None
    formed_on: dt.date | None = None
    effective_on: dt.date | None = None
    abolish_on: dt.date | None = None
    supersedes_id: uuid.UUID | None = None


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    item_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime


class ItemSummaryOut(BaseModel):
    """An item in a list (no body)."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    organization_id: uuid.UUID
    category_id: uuid.UUID | None = None
    index_number: str | None = Field(default=None, description="索引号")
    title: str
    summary: str | None = None
    kind: ItemKind
    document_number: str | None
    publisher: str | None = None
    subject_category: str | None = None
    keywords: list[str] = Field(default_factory=list)
    status: ItemStatus
    review_stage: int | None = None
    written_on: dt.date | None
    formed_on: dt.date | None = None
    effective_on: dt.date | None
    abolish_on: dt.date | None = None
    published_on: dt.date | None
    validity: Validity = Validity.effective
    validity_changed_on: dt.date | None = None
    supersedes_id: uuid.UUID | None
    superseded_by_id: uuid.UUID | None = None
    due_on: dt.date | None = Field(default=None, description="应发布日期：生成日期起20个工作日（条例第二十六条）")
    due_provisional: bool = Field(default=False, description="应发布日期为暂定（跨入尚未载入的年份）")
    published_late: bool | None = Field(default=None, description="是否逾期发布")
    origin: str | None = Field(
        default=None, description="来源系统：interpretation（政策解读系统发布）；在目录中起草的为空"
    )
    origin_id: uuid.UUID | None = Field(default=None, description="来源系统中的标识（如解读标识）")

    @computed_field(description="文件类型（中文）")  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> str:
        return ITEM_KIND_LABELS[self.kind]

    @computed_field(description="是否为政策文件")  # type: ignore[prop-decorator]
    @property
    def is_policy(self) -> bool:
        return self.kind in POLICY_KINDS

    @computed_field(description="状态（中文）")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        return ITEM_STATUS_LABELS[self.status]

    @computed_field(description="有效性：有效/失效/废止")  # type: ignore[prop-decorator]
    @property
    def validity_label(self) -> str:
        return VALIDITY_LABELS[self.validity]


class ItemLinkOut(BaseModel):
    """A linked item, as seen from the item shown (双向关联)."""

    relation: str = Field(
        description="关系：interprets 所解读的政策 / interpreted_by 政策解读 / "
        "responds_to 所回应的信息 / responded_by 回应关切"
    )
    relation_label: str = Field(description="关系（中文）")
    item_id: uuid.UUID = Field(description="关联信息")
    title: str = Field(description="标题")
    kind: ItemKind = Field(description="文件类型")
    index_number: str | None = Field(default=None, description="索引号")
    document_number: str | None = Field(default=None, description="文号")
    status: ItemStatus = Field(description="状态")
    published_on: dt.date | None = Field(default=None, description="发布日期")


class ItemOut(ItemSummaryOut):
    body: str
    review_stage_name: str | None = Field(default=None, description="当前审查环节")
    attachments: list[AttachmentOut] = Field(default_factory=list, description="附件")
    links: list[ItemLinkOut] = Field(
        default_factory=list, description="关联信息（双向关联：政策显示其解读，解读显示其政策）"
    )


class OpinionIn(BaseModel):
    opinion: str | None = Field(default=None, max_length=5000, description="审核意见")


class ReturnIn(BaseModel):
    opinion: str = Field(min_length=1, max_length=5000, description="退回意见（必填）")


class RepealIn(BaseModel):
    repealed_on: dt.date = Field(description="废止日期")
    reason: str = Field(min_length=1, max_length=2000, description="废止理由或依据")


class HistoryEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: dt.datetime = Field(description="时间")
    actor: str = Field(description="操作人")
    actor_name: str | None = Field(default=None, description="操作人姓名")
    action: str = Field(description="操作")
    stage: str | None = Field(default=None, description="环节")
    decision: str | None = Field(default=None, description="结论")
    opinion: str | None = Field(default=None, description="意见或理由")
    details: dict[str, Any] | None = Field(default=None, description="详情（如放行的敏感内容，已遮盖）")


class DeadlineOut(BaseModel):
    basis: str = Field(description="依据")
    formed_on: dt.date = Field(description="生成日期（不计入）")
    working_days: int
    due_on: dt.date = Field(description="应发布日期")
    provisional: bool
    unknown_years: list[int]
    counted: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    published_on: dt.date | None = None
    published_late: bool | None = None


# --------------------------------------------------------------------------------------------
# Annual report, table 二
# --------------------------------------------------------------------------------------------


class AnnualFiguresIn(BaseModel):
    licensing_decisions: int | None = Field(default=None, ge=0, description="行政许可 本年处理决定数量")
    penalty_decisions: int | None = Field(default=None, ge=0, description="行政处罚 本年处理决定数量")
    enforcement_decisions: int | None = Field(default=None, ge=0, description="行政强制 本年处理决定数量")
    fee_amount: Decimal | None = Field(
        default=None, ge=0, max_digits=14, decimal_places=4, description="行政事业性收费 本年收费金额（万元）"
    )


class DocumentCounts(BaseModel):
    issued: int = Field(description="本年制发件数")
    repealed: int = Field(description="本年废止件数")
    in_force: int = Field(description="现行有效件数")


class Table2Out(BaseModel):
    """Table 二 of the annual report (国办公开办函〔2021〕30号): 主动公开政府信息情况."""

    organization_id: uuid.UUID
    year: int
    as_of: dt.date = Field(description="现行有效件数的统计日")
    regulations: DocumentCounts = Field(description="第二十条第（一）项 规章")
    normative_documents: DocumentCounts = Field(description="第二十条第（一）项 行政规范性文件")
    licensing_decisions: int | None = Field(description="第二十条第（五）项 行政许可 本年处理决定数量")
    penalty_decisions: int | None = Field(description="第二十条第（六）项 行政处罚 本年处理决定数量")
    enforcement_decisions: int | None = Field(description="第二十条第（六）项 行政强制 本年处理决定数量")
    fee_amount: Decimal | None = Field(description="第二十条第（八）项 行政事业性收费 本年收费金额（万元）")
    supplied_by: str | None = Field(default=None, description="填报人")
    supplied_at: dt.datetime | None = Field(default=None, description="填报时间")


# --------------------------------------------------------------------------------------------
# 依申请转主动 suggestions
# --------------------------------------------------------------------------------------------


class SuggestionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    organization_id: uuid.UUID = Field(description="部门")
    title: str = Field(description="建议主动公开的信息")
    applicant_count: int = Field(description="申请人数")
    application_ids: list[str] = Field(description="相关申请")
    status: SuggestionStatus
    item_id: uuid.UUID | None = Field(default=None, description="转为主动公开的信息")
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_note: str | None = None
    created_at: dt.datetime

    @computed_field(description="状态（中文）")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        return SUGGESTION_STATUS_LABELS[self.status]


class SuggestionDecisionIn(BaseModel):
    decision: Literal["accept", "dismiss"] = Field(description="accept 采纳（转为主动公开）/ dismiss 不予采纳")
    note: str | None = Field(default=None, max_length=2000, description="说明（不予采纳时必填）")
    item_id: uuid.UUID | None = Field(default=None, description="已据此主动公开的信息")
