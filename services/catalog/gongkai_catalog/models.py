"""Catalog tables (domain.md §1; issue 3).

``items`` is the public catalog (主动公开). Its columns, for anyone building on it (search, feeds):

- identity and place: ``organization_id`` (发布机构), ``category_id`` (栏目/类别), ``kind`` (文件类型),
  ``index_number`` (索引号, set at publication, unique), ``document_number`` (文号, normalised to 〔〕);
- text: ``title``, ``summary`` (内容概述), ``body``, ``keywords`` (主题词), ``subject_category`` (主题分类);
  attachment bytes live in ``attachments`` (text attachments are searchable: ``content_type`` text/*);
- dates: ``written_on`` (成文日期), ``formed_on`` (生成日期, starts the art. 26 clock),
  ``published_on``/``published_at`` (发布日期), ``effective_on`` (实施日期), ``abolish_on`` (废止日期);
- validity: ``validity`` (有效/失效/废止) and ``validity_changed_on``; ``supersedes_id`` and
  ``superseded_by_id`` link revisions both ways;
- origin: ``origin``/``origin_id`` name the system and record an item was published from (a 政策解读
  from the interpretation service); unique together, so a redelivered event cannot publish it twice;
  ``item_links`` relates items (an interpretation to its policy, 双向关联);
- workflow: ``status`` (draft → in_review → approved → published) and ``review_stage``; only
  ``status == published`` is public;
- the publication clock: ``due_on``, ``due_provisional``, ``published_late``, and when the due-soon and
  overdue events were sent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import IdMixin, TimestampMixin, make_metadata
from gongkai_shared.events import define_event_tables
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = make_metadata()


event_tables = define_event_tables(Base.metadata)
calendar_table = define_calendar_table(Base.metadata)


def _enum(cls: type[StrEnum], name: str, length: int = 40) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


# --------------------------------------------------------------------------------------------
# Organizations (机关)
# --------------------------------------------------------------------------------------------


class OrganizationType(StrEnum):
    government = "government"  # 政府
    department = "department"  # 部门
    district = "district"  # 县区
    township = "township"  # 镇街
    other = "other"  # 其他


ORGANIZATION_TYPE_LABELS = {
    OrganizationType.government: "政府",
    OrganizationType.department: "部门",
    OrganizationType.district: "县区",
    OrganizationType.township: "镇街",
    OrganizationType.other: "其他",
}


class Organization(IdMixin, TimestampMixin, Base):
    """机关: a government, department, county/district or township/street, in one tree."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(18), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    type: Mapped[OrganizationType] = mapped_column(
        _enum(OrganizationType, "organization_type", 20), default=OrganizationType.department
    )
    address: Mapped[str | None] = mapped_column(String(300))
    office_hours: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    head_name: Mapped[str | None] = mapped_column(String(100))
    head_title: Mapped[str | None] = mapped_column(String(100))


# --------------------------------------------------------------------------------------------
# Catalog structure: columns and categories (国办公开办函〔2019〕61号; 条例 art. 20-21)
# --------------------------------------------------------------------------------------------


class Category(IdMixin, TimestampMixin, Base):
    """A node of the catalog tree. Top-level nodes are the platform's four columns (栏目)."""

    __tablename__ = "categories"

    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: A stable key for seeded nodes (``column.statutory``, ``art20.1`` …); null for the office's own.
    key: Mapped[str | None] = mapped_column(String(60), unique=True)
    #: Where the law puts it: "条例第二十条第（一）项".
    basis: Mapped[str | None] = mapped_column(String(200))
    #: Who must publish it: all (every agency), city_county (art. 21 市、县级), township (art. 21 乡镇).
    scope: Mapped[str] = mapped_column(String(20), default="all")
    position: Mapped[int] = mapped_column(Integer, default=0)


class PilotArea(IdMixin, TimestampMixin, Base):
    """One of the 26 pilot areas of 基层政务公开标准化 (国办发〔2019〕54号), as data the office edits."""

    __tablename__ = "pilot_areas"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(300))


class CatalogEntry(IdMixin, TimestampMixin, Base):
    """An entry of an organization's 政务公开事项标准目录 (国办发〔2019〕54号): the nine fields of domain.md §1."""

    __tablename__ = "catalog_entries"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    pilot_area_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pilot_areas.id"))
    matter_level1: Mapped[str] = mapped_column(String(200))  # 公开事项 一级事项
    matter_level2: Mapped[str | None] = mapped_column(String(200))  # 公开事项 二级事项
    content: Mapped[str] = mapped_column(Text)  # 公开内容（要素）
    basis: Mapped[str] = mapped_column(Text)  # 公开依据
    time_limit: Mapped[str] = mapped_column(String(200))  # 公开时限
    subject: Mapped[str] = mapped_column(String(200))  # 公开主体
    channels: Mapped[str] = mapped_column(Text)  # 公开渠道和载体
    audience: Mapped[str] = mapped_column(String(50))  # 公开对象: 全社会 / 特定群众
    method: Mapped[str] = mapped_column(String(50))  # 公开方式: 主动 / 依申请
    level: Mapped[str] = mapped_column(String(50))  # 公开层级: 县级 / 乡级
    position: Mapped[int] = mapped_column(Integer, default=0)


class NegativeTerm(IdMixin, TimestampMixin, Base):
    """A term of an organization's 负面清单: information not to be published (条例 art. 14-16)."""

    __tablename__ = "negative_terms"
    __table_args__ = (UniqueConstraint("organization_id", "term"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    term: Mapped[str] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(100))  # e.g. 个人隐私, 内部事务信息
    note: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(200))


# --------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------


class ItemKind(StrEnum):
    """文件类型. ``POLICY_KINDS`` decides what is a policy (and needs an interpretation, 三同步)."""

    regulation = "regulation"  # 规章
    normative_document = "normative_document"  # 行政规范性文件
    policy_document = "policy_document"  # 其他政策文件
    other_document = "other_document"  # 其他文件
    licensing_decision = "licensing_decision"  # 行政许可决定
    penalty_decision = "penalty_decision"  # 行政处罚决定
    enforcement_decision = "enforcement_decision"  # 行政强制决定
    budget = "budget"  # 财政预决算
    interpretation = "interpretation"  # 政策解读
    response = "response"  # 回应关切
    annual_report = "annual_report"  # 政府信息公开工作年度报告
    work_news = "work_news"  # 工作动态
    other = "other"  # 其他


ITEM_KIND_LABELS = {
    ItemKind.regulation: "规章",
    ItemKind.normative_document: "行政规范性文件",
    ItemKind.policy_document: "其他政策文件",
    ItemKind.other_document: "其他文件",
    ItemKind.licensing_decision: "行政许可决定",
    ItemKind.penalty_decision: "行政处罚决定",
    ItemKind.enforcement_decision: "行政强制决定",
    ItemKind.budget: "财政预决算",
    ItemKind.interpretation: "政策解读",
    ItemKind.response: "回应关切",
    ItemKind.annual_report: "年度报告",
    ItemKind.work_news: "工作动态",
    ItemKind.other: "其他",
}
POLICY_KINDS = frozenset({ItemKind.regulation, ItemKind.normative_document, ItemKind.policy_document})


class ItemStatus(StrEnum):
    draft = "draft"  # 草稿
    in_review = "in_review"  # 审查中（保密审查、内容审核）
    approved = "approved"  # 已审核，待发布
    published = "published"  # 已发布


ITEM_STATUS_LABELS = {
    ItemStatus.draft: "草稿",
    ItemStatus.in_review: "审查中",
    ItemStatus.approved: "已审核待发布",
    ItemStatus.published: "已发布",
}


class Validity(StrEnum):
    effective = "effective"  # 有效
    expired = "expired"  # 失效
    repealed = "repealed"  # 废止


VALIDITY_LABELS = {Validity.effective: "有效", Validity.expired: "失效", Validity.repealed: "废止"}


class Item(IdMixin, TimestampMixin, Base):
    """A piece of government information in the catalog (条例 art. 12: 索引, 名称, 内容概述, 生成日期 at least)."""

    __tablename__ = "items"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    category_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("categories.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[ItemKind] = mapped_column(_enum(ItemKind, "item_kind"))
    document_number: Mapped[str | None] = mapped_column(String(100))
    index_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    body: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(String(200))
    subject_category: Mapped[str | None] = mapped_column(String(200))
    keywords: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    status: Mapped[ItemStatus] = mapped_column(
        _enum(ItemStatus, "item_status", 20), default=ItemStatus.draft, index=True
    )
    #: While in review: 0 = 保密审查, 1..N = the content-review stages (settings.review_stages).
    review_stage: Mapped[int | None] = mapped_column(Integer)
    written_on: Mapped[dt.date | None] = mapped_column(Date)
    formed_on: Mapped[dt.date | None] = mapped_column(Date)
    effective_on: Mapped[dt.date | None] = mapped_column(Date)
    abolish_on: Mapped[dt.date | None] = mapped_column(Date)
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    validity: Mapped[Validity] = mapped_column(_enum(Validity, "item_validity", 20), default=Validity.effective)
    validity_changed_on: Mapped[dt.date | None] = mapped_column(Date)
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("items.id"))
    superseded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("items.id"))
    # The publication clock (条例 art. 26).
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    published_late: Mapped[bool | None] = mapped_column(Boolean)
    due_soon_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    #: The system an item came from (``interpretation``, ``sentiment``) and its id there; null when drafted here.
    origin: Mapped[str | None] = mapped_column(String(40))
    origin_id: Mapped[uuid.UUID | None] = mapped_column()

    __table_args__ = (UniqueConstraint("origin", "origin_id"),)


class LinkRelation(StrEnum):
    """How ``item_links.item_id`` relates to ``target_id``; the view from the target is the inverse."""

    interprets = "interprets"  # 政策解读 → 所解读的政策
    responds_to = "responds_to"  # 回应关切 → 所回应的信息


#: (label seen from the item, label seen from the target).
LINK_RELATION_LABELS = {
    LinkRelation.interprets: ("所解读的政策", "政策解读"),
    LinkRelation.responds_to: ("所回应的信息", "回应关切"),
}


class ItemLink(IdMixin, TimestampMixin, Base):
    """A link between two items, shown on both (双向关联): a policy shows its interpretations, each
    interpretation shows its policy (国办发〔2016〕80号 and domain.md §4: policy and interpretation link to each
    other)."""

    __tablename__ = "item_links"
    __table_args__ = (UniqueConstraint("item_id", "target_id", "relation"),)

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    relation: Mapped[LinkRelation] = mapped_column(_enum(LinkRelation, "link_relation", 30))


class Attachment(IdMixin, TimestampMixin, Base):
    """An item's file, in PostgreSQL for now (a blob store comes later: ``data`` is what moves)."""

    __tablename__ = "attachments"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(150))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))


class ItemEvent(IdMixin, Base):
    """One step of an item's history: who did what, when, at which stage, with which opinion."""

    __tablename__ = "item_history"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str | None] = mapped_column(String(40))
    decision: Mapped[str | None] = mapped_column(String(40))
    opinion: Mapped[str | None] = mapped_column(Text)
    #: For sensitive-check overrides: the masked findings the reviewer accepted, with their keys.
    details: Mapped[dict | None] = mapped_column(JSONB)


class IndexCounter(Base):
    """The last 索引号 serial given per (agency code, year): never goes back, so a number is never reused."""

    __tablename__ = "index_counters"

    agency_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer)


# --------------------------------------------------------------------------------------------
# Suggestions to publish proactively (依申请转主动)
# --------------------------------------------------------------------------------------------


class SuggestionStatus(StrEnum):
    open = "open"  # 待处理
    accepted = "accepted"  # 已采纳（转为主动公开）
    dismissed = "dismissed"  # 不予采纳


SUGGESTION_STATUS_LABELS = {
    SuggestionStatus.open: "待处理",
    SuggestionStatus.accepted: "已采纳",
    SuggestionStatus.dismissed: "不予采纳",
}


class Suggestion(IdMixin, TimestampMixin, Base):
    """A repeated topic of applications, in the office's queue: publish it proactively? (domain.md §2)."""

    __tablename__ = "suggestions"

    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)  # the department (may be unknown here yet)
    title: Mapped[str] = mapped_column(String(500))
    applicant_count: Mapped[int] = mapped_column(Integer)
    application_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    source_event_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    status: Mapped[SuggestionStatus] = mapped_column(
        _enum(SuggestionStatus, "suggestion_status", 20), default=SuggestionStatus.open, index=True
    )
    item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("items.id"))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------------------------
# Annual report, table 二 (国办公开办函〔2021〕30号)
# --------------------------------------------------------------------------------------------


class AnnualFigures(TimestampMixin, Base):
    """Table 二 figures the catalog does not hold: supplied by the office or another system."""

    __tablename__ = "annual_figures"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    licensing_decisions: Mapped[int | None] = mapped_column(Integer)  # 第（五）项 行政许可 本年处理决定数量
    penalty_decisions: Mapped[int | None] = mapped_column(Integer)  # 第（六）项 行政处罚
    enforcement_decisions: Mapped[int | None] = mapped_column(Integer)  # 第（六）项 行政强制
    fee_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))  # 第（八）项 行政事业性收费（万元）
    updated_by: Mapped[str] = mapped_column(String(200))
