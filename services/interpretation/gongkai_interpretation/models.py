"""Interpretation tables: one task per policy (三同步), its content, review history, local organizations.

A task is the interpretation of one policy: it is created when the policy is published (or registered
earlier by its drafters, 三同步, and linked when the policy arrives), carries the content (text, forms,
Q&A), the draft written from the policy, the clause differences from a superseded policy, the
quality check and the publication.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import IdMixin, TimestampMixin, make_metadata
from gongkai_shared.events import define_event_tables
from sqlalchemy import Boolean, Date, DateTime, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = make_metadata()


event_tables = define_event_tables(Base.metadata)
calendar_table = define_calendar_table(Base.metadata)


class TaskStatus(StrEnum):
    assigned = "assigned"  # 已分派
    drafting = "drafting"  # 起草中
    review = "review"  # 审核中
    published = "published"  # 已发布


TASK_STATUS_LABELS = {
    TaskStatus.assigned: "已分派",
    TaskStatus.drafting: "起草中",
    TaskStatus.review: "审核中",
    TaskStatus.published: "已发布",
}


class InterpretationForm(StrEnum):
    """解读形式 (domain.md §4)."""

    text = "text"  # 文字
    graphic = "graphic"  # 图解
    qa = "qa"  # 问答（简明问答）
    video = "video"  # 音视频
    animation = "animation"  # 动漫
    case = "case"  # 案例
    expert = "expert"  # 专家解读
    interview = "interview"  # 在线访谈
    press_conference = "press_conference"  # 新闻发布会


FORM_LABELS = {
    InterpretationForm.text: "文字",
    InterpretationForm.graphic: "图解",
    InterpretationForm.qa: "问答",
    InterpretationForm.video: "音视频",
    InterpretationForm.animation: "动漫",
    InterpretationForm.case: "案例",
    InterpretationForm.expert: "专家解读",
    InterpretationForm.interview: "在线访谈",
    InterpretationForm.press_conference: "新闻发布会",
}


class Organization(Base):
    """A 机关 as the catalog announces it (catalog.organization.created/updated): its head is the
    第一解读人 of the policies it drafts (谁起草、谁解读, domain.md §4)."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    head_name: Mapped[str | None] = mapped_column(String(100))
    head_title: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class InterpretationTask(IdMixin, TimestampMixin, Base):
    """An interpretation due for one policy (三同步, domain.md §4): exactly one per policy.

    ``policy_item_id`` is empty while an interpretation registered before its policy (三同步) waits
    for the policy: it is then matched by ``policy_reference`` (the catalog item id or the 文号).
    """

    __tablename__ = "tasks"

    policy_item_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    policy_title: Mapped[str] = mapped_column(String(500))
    policy_document_number: Mapped[str | None] = mapped_column(String(100), index=True)
    policy_kind: Mapped[str | None] = mapped_column(String(60))
    policy_body: Mapped[str | None] = mapped_column(Text)
    supersedes_item_id: Mapped[uuid.UUID | None]
    policy_reference: Mapped[str | None] = mapped_column(String(200), index=True)
    registered_early: Mapped[bool] = mapped_column(Boolean, default=False)
    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    head_name: Mapped[str | None] = mapped_column(String(100))
    head_title: Mapped[str | None] = mapped_column(String(100))
    head_set_by_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    drafter: Mapped[str | None] = mapped_column(String(100))
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    due_working_days: Mapped[int]
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[TaskStatus] = mapped_column(
        Enum(TaskStatus, name="task_status", native_enum=False, length=20), default=TaskStatus.assigned
    )
    # Content
    title: Mapped[str | None] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text, default="")
    forms: Mapped[list] = mapped_column(JSONB, default=list)
    qa_pairs: Mapped[list] = mapped_column(JSONB, default=list)
    non_text_forms: Mapped[int] = mapped_column(Integer, default=0)
    draft: Mapped[dict | None] = mapped_column(JSONB)
    differences: Mapped[dict | None] = mapped_column(JSONB)
    # Quality check and publication
    quality_score: Mapped[int | None]
    quality: Mapped[dict | None] = mapped_column(JSONB)
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    interpretation_published_on: Mapped[dt.date | None] = mapped_column(Date)
    due_soon_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class TaskEvent(IdMixin, Base):
    """The history of a task: who did what, when, with which opinion (审核意见)."""

    __tablename__ = "task_history"

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    opinion: Mapped[str | None] = mapped_column(Text)
