"""Catalog tables. The walking skeleton's minimum: organizations and items; issue 3 deepens them."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import IdMixin, TimestampMixin, make_metadata
from gongkai_shared.events import define_event_tables
from sqlalchemy import Date, DateTime, Enum, ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = make_metadata()


event_tables = define_event_tables(Base.metadata)
calendar_table = define_calendar_table(Base.metadata)


class ItemKind(StrEnum):
    """文件类型. Policy kinds (规章, 行政规范性文件, 其他政策文件) need an interpretation (三同步)."""

    regulation = "regulation"  # 规章
    normative_document = "normative_document"  # 行政规范性文件
    policy_document = "policy_document"  # 其他政策文件
    other_document = "other_document"  # 其他文件
    work_news = "work_news"  # 工作动态


ITEM_KIND_LABELS = {
    ItemKind.regulation: "规章",
    ItemKind.normative_document: "行政规范性文件",
    ItemKind.policy_document: "其他政策文件",
    ItemKind.other_document: "其他文件",
    ItemKind.work_news: "工作动态",
}
POLICY_KINDS = frozenset({ItemKind.regulation, ItemKind.normative_document, ItemKind.policy_document})


class ItemStatus(StrEnum):
    draft = "draft"  # 草稿
    published = "published"  # 已发布


class Organization(IdMixin, TimestampMixin, Base):
    """机关: a government, department, county/district or township/street."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(18), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"))


class Item(IdMixin, TimestampMixin, Base):
    """A piece of government information in the catalog."""

    __tablename__ = "items"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    kind: Mapped[ItemKind] = mapped_column(Enum(ItemKind, name="item_kind", native_enum=False, length=40))
    document_number: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[ItemStatus] = mapped_column(
        Enum(ItemStatus, name="item_status", native_enum=False, length=20), default=ItemStatus.draft
    )
    written_on: Mapped[dt.date | None] = mapped_column(Date)
    effective_on: Mapped[dt.date | None] = mapped_column(Date)
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("items.id"))
    created_by: Mapped[str] = mapped_column(String(200))
